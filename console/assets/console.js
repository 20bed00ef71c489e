// runner console: progressive enhancement only; every page works without it.
(function () {
  'use strict';
  // A live region ([data-live]) polls its page and swaps itself in until
  // the server's copy is no longer live (the run ended).
  function poll() {
    var live = document.querySelector('[data-live]');
    if (!live) return;
    setTimeout(function () {
      fetch(location.href, { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html').getElementById(live.id);
        if (next) { live.replaceWith(document.adoptNode(next)); }
        poll();
      }).catch(poll);
    }, 1500);
  }
  poll();

  // The preview's list: filter by kind and search as one types.
  // A list cut at its first records is filtered by the server instead.
  var form = document.getElementById('item-filter');
  if (form && !form.hasAttribute('data-server')) {
    var rows = document.querySelectorAll('#items tbody tr');
    var shown = document.getElementById('shown');
    var apply = function () {
      var show = form.elements.show.value, q = form.elements.q.value.trim().toLowerCase(), n = 0;
      rows.forEach(function (tr) {
        var ok = (show === 'all' || show === '' || tr.dataset.status === show) && (!q || tr.textContent.toLowerCase().indexOf(q) >= 0);
        tr.hidden = !ok;
        if (ok) n++;
      });
      if (shown) shown.textContent = n;
    };
    form.addEventListener('input', apply);
    form.addEventListener('submit', function (e) { e.preventDefault(); apply(); });
  }

  // 要対応: a checkbox that selects every record of its form.
  document.querySelectorAll('input[data-select-all]').forEach(function (all) {
    all.hidden = false;
    all.closest('label').hidden = false;
    all.addEventListener('change', function () {
      all.form.querySelectorAll('input[name="key"]').forEach(function (b) { b.checked = all.checked; });
    });
  });
})();

package jobtest

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

// Result is the outcome of one run block.
type Result struct {
	File, Run string
	Pass      bool
	Elapsed   time.Duration
	// Failures name each difference from the expectations, with the
	// expectation's place: "x.test.hcl:12:3: order 100000001203: want
	// send, got excluded by filter "updated-4d"".
	Failures []string
	// Log is what the job did, record by record, for -v.
	Log []string
}

// Run runs every run block whose name match matches (nil: all), calling
// report as each begins and ends.
func (s *Suite) Run(ctx context.Context, match *regexp.Regexp, rep Reporter) (passed bool) {
	passed = true
	for _, f := range s.Files {
		start := time.Now()
		rep.StartFile(f.Name)
		ran, filePass := 0, true
		for _, r := range f.Runs {
			if match != nil && !match.MatchString(r.Name) {
				continue
			}
			ran++
			rep.StartRun(f.Name, r.Name)
			res := s.run(ctx, r)
			filePass = filePass && res.Pass
			rep.EndRun(res)
		}
		passed = passed && filePass
		rep.EndFile(f.Name, filePass, ran, time.Since(start))
	}
	return passed
}

func (s *Suite) run(ctx context.Context, r *Run) Result {
	start := time.Now()
	res := Result{File: r.file.Name, Run: r.Name}
	defer func() { res.Elapsed = time.Since(start) }()
	failf := func(rng hcl.Range, format string, args ...any) {
		res.Failures = append(res.Failures, fmt.Sprintf("%s:%d:%d: ", rng.Filename, rng.Start.Line, rng.Start.Column)+fmt.Sprintf(format, args...))
	}
	tmp, err := os.MkdirTemp("", "runner-test-*")
	if err != nil {
		failf(r.DeclRange, "%v", err)
		return res
	}
	defer os.RemoveAll(tmp)

	// The job as its files declare it, to learn which connectors to replace.
	_, j, diags := s.load(r, nil)
	if diags.HasErrors() {
		for _, d := range diags.Errs() {
			res.Failures = append(res.Failures, d.Error())
		}
		return res
	}
	var srv *futureshoptest.Server
	if j.SourceType == "futureshop" || j.DestType == "futureshop" {
		// No request budget: a test proves what is sent, not the pace.
		srv = futureshoptest.NewServer(futureshoptest.WithRateLimit(0, 1))
		defer srv.Close()
		srv.Seed(r.Shop...)
	}
	overrides, err := s.overrides(r, j, tmp, srv)
	if err != nil {
		failf(r.Input.Rng, "input: %v", err)
		return res
	}
	_, j, diags = s.load(r, overrides)
	if diags.HasErrors() {
		for _, d := range diags.Errs() {
			res.Failures = append(res.Failures, d.Error())
		}
		return res
	}

	var items []engine.Item
	err = j.Each(ctx, r.Now, func(it engine.Item) error {
		items = append(items, it)
		res.Log = append(res.Log, describe(it))
		return nil
	})
	if err != nil {
		failf(r.DeclRange, "the job's plan stopped: %v", err)
		return res
	}
	var failures []engine.Failure
	if r.Command == "run" {
		if srv != nil {
			srv.ResetRequests()
		}
		sum, err := j.Run(ctx, engine.RunOptions{Trigger: "test", Now: r.Now})
		failures = sum.Failures
		res.Log = append(res.Log, fmt.Sprintf("run: %d ok, %d failed", sum.OK, sum.Failed))
		for _, f := range failures {
			res.Log = append(res.Log, fmt.Sprintf("failed %s [%s]: %s", f.Key, f.Code, f.Message))
		}
		if err != nil {
			failf(r.DeclRange, "the run stopped: %v", err)
			return res
		}
	}

	for _, e := range r.Expects {
		for _, msg := range compare(e, matching(items, e.Key), failures, r.Command == "run") {
			failf(e.Rng, "order %s: %s", e.Key, msg)
		}
	}
	if srv != nil && r.Calls != nil {
		got := map[string]int{}
		for _, q := range srv.Requests() {
			got[q.Method+" "+q.Path]++
		}
		for _, k := range sortedKeys(r.Calls) {
			if got[k] != r.Calls[k] {
				failf(r.CallsAt, "calls %q: want %d, got %d", k, r.Calls[k], got[k])
			}
		}
	}
	for _, a := range r.After {
		for _, msg := range shopAfter(srv, a) {
			failf(a.Rng, "shop order %s: %s", a.OrderNo, msg)
		}
	}
	res.Pass = len(res.Failures) == 0
	return res
}

// overrides point the job's connectors at the test's input, a temporary
// directory and the test shop.
func (s *Suite) overrides(r *Run, j *engine.Job, tmp string, srv *futureshoptest.Server) ([]engine.Override, error) {
	var out []engine.Override
	if j.SourceType == "goq_csv" && r.Input != nil {
		o := engine.Override{Block: "source", Type: "goq_csv", Set: map[string]cty.Value{}, Remove: []string{"inbox", "archive"}}
		in := r.Input
		switch {
		case in.File != "":
			path := in.File
			if !filepath.IsAbs(path) {
				path = filepath.Join(r.file.Dir, path)
			}
			o.Set["path"] = cty.StringVal(path)
		default:
			data := []byte(in.CSV)
			if in.Rows != nil {
				data = rowsCSV(in.Rows)
			}
			path := filepath.Join(tmp, "input.csv")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				return nil, err
			}
			// Inline rows are the test file's text, so UTF-8.
			o.Set["path"], o.Set["encoding"] = cty.StringVal(path), cty.StringVal("utf-8")
		}
		out = append(out, o)
	}
	if j.DestType == "goq_csv" {
		dir := filepath.Join(tmp, "out")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		out = append(out, engine.Override{Block: "destination", Type: "goq_csv", Set: map[string]cty.Value{"dir": cty.StringVal(dir)}})
	}
	if srv != nil {
		set := map[string]cty.Value{
			"api_domain": cty.StringVal(srv.URL), "shop_key": cty.StringVal(srv.ShopKey),
			"client_id": cty.StringVal(srv.ClientID), "client_secret": cty.StringVal(srv.ClientSecret),
			"rate_limit": cty.NumberIntVal(1000),
		}
		out = append(out, engine.Override{Block: "source", Type: "futureshop", Set: set},
			engine.Override{Block: "destination", Type: "futureshop", Set: set})
	}
	return out, nil
}

// rowsCSV writes rows as a CSV with a header of every key, sorted.
func rowsCSV(rows []map[string]string) []byte {
	seen := map[string]bool{}
	var headers []string
	for _, row := range rows {
		for k := range row {
			if !seen[k] {
				seen[k] = true
				headers = append(headers, k)
			}
		}
	}
	sort.Strings(headers)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(headers)
	for _, row := range rows {
		rec := make([]string, len(headers))
		for i, h := range headers {
			rec[i] = row[h]
		}
		w.Write(rec)
	}
	w.Flush()
	return b.Bytes()
}

// matching finds the records an expectation names: by record key (an order
// and shipment, an order and line), else by label (an order number).
func matching(items []engine.Item, key string) []engine.Item {
	var byKey, byLabel []engine.Item
	for _, it := range items {
		if it.Payload.Key == key {
			byKey = append(byKey, it)
		} else if it.Label == key {
			byLabel = append(byLabel, it)
		}
	}
	if len(byKey) > 0 {
		return byKey
	}
	return byLabel
}

func compare(e *Expect, items []engine.Item, failures []engine.Failure, ran bool) []string {
	want := e.Want
	switch want {
	case "excluded":
		want = "excluded by filter " + strconv.Quote(e.Filter)
	case "error":
		want = "an error containing " + strconv.Quote(e.Error)
	}
	if e.Want == "absent" {
		if len(items) == 0 {
			return nil
		}
		return []string{fmt.Sprintf("want absent (never read), got %s", fate(items[0]))}
	}
	if len(items) == 0 {
		return []string{fmt.Sprintf("want %s, got no record of it", want)}
	}
	var out []string
	for _, it := range items {
		switch {
		case e.Want == "send" && it.Status == engine.Send:
			out = append(out, payloadDiff(e, it.Payload.Values)...)
			if !ran {
				continue
			}
			f, failed := failureOf(failures, it.Payload.Key)
			switch {
			case e.Failure == "" && failed:
				out = append(out, fmt.Sprintf("want sent, got failure %s", showFailure(f)))
			case e.Failure != "" && !failed:
				out = append(out, fmt.Sprintf("want failure %q, got accepted", e.Failure))
			case e.Failure != "" && f.Code != e.Failure && !strings.Contains(f.Message, e.Failure):
				out = append(out, fmt.Sprintf("want failure %q, got failure %s", e.Failure, showFailure(f)))
			}
		case e.Want == "excluded" && it.Status == engine.Excluded && it.Filter == e.Filter:
		case e.Want == "error" && it.Status == engine.Invalid && strings.Contains(it.Reason, e.Error):
		default:
			out = append(out, fmt.Sprintf("want %s, got %s", want, fate(it)))
		}
	}
	return out
}

func failureOf(failures []engine.Failure, key string) (engine.Failure, bool) {
	for _, f := range failures {
		if f.Key == key {
			return f, true
		}
	}
	return engine.Failure{}, false
}

func showFailure(f engine.Failure) string {
	if f.Code != "" {
		return fmt.Sprintf("%s (%s)", f.Code, engine.Clip(f.Message))
	}
	return strconv.Quote(engine.Clip(f.Message))
}

// fate says what became of a record, in a plan's words.
func fate(it engine.Item) string {
	switch it.Status {
	case engine.Send:
		return "send"
	case engine.Excluded:
		return "excluded by filter " + strconv.Quote(it.Filter)
	case engine.Invalid:
		return "error: " + engine.Clip(it.Reason)
	case engine.Skipped:
		return "skipped: " + engine.Clip(it.Reason)
	}
	return it.Status.String()
}

func describe(it engine.Item) string {
	label := it.Label
	if it.Status == engine.Send {
		label = it.Payload.Key
		var parts []string
		for _, k := range sortedKeys(it.Payload.Values) {
			parts = append(parts, k+"="+show(it.Payload.Values[k]))
		}
		return fmt.Sprintf("%s  %s  send %s", label, it.Pos, strings.Join(parts, " "))
	}
	return fmt.Sprintf("%s  %s  %s", label, it.Pos, fate(it))
}

// payloadDiff names each field whose value is not the expected one.
func payloadDiff(e *Expect, got map[string]any) []string {
	var out []string
	for _, k := range sortedKeys(e.Payload) {
		v, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: want %q, got none (not sent)", k, e.Payload[k]))
		case text(v) != e.Payload[k]:
			out = append(out, fmt.Sprintf("%s: want %q, got %s", k, e.Payload[k], show(v)))
		}
	}
	if e.Exact {
		for _, k := range sortedKeys(got) {
			if _, ok := e.Payload[k]; !ok {
				out = append(out, fmt.Sprintf("%s: want none, got %s", k, show(got[k])))
			}
		}
	}
	return out
}

func text(v any) string {
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(engine.Clip(s))
	}
	return text(v)
}

// shopAfter compares an order of the test shop with what the test says.
func shopAfter(srv *futureshoptest.Server, a *After) []string {
	if srv == nil {
		return []string{"no test shop"}
	}
	o, ok := srv.Order(a.OrderNo)
	if !ok {
		return []string{"not in the shop"}
	}
	var sh *futureshoptest.Shipment
	for i := range o.Shipments {
		if o.Shipments[i].ShipmentNo == a.Shipment {
			sh = &o.Shipments[i]
		}
	}
	if sh == nil {
		return []string{fmt.Sprintf("has no shipment %d", a.Shipment)}
	}
	got := map[string]string{
		"status": o.Status, "shipment_status": sh.Status, "shipping_date": sh.ShippingDate,
		"invoice_no": sh.InvoiceNo, "expected_arrival": sh.ExpectedArrival,
	}
	var out []string
	for _, k := range sortedKeys(a.Fields) {
		if got[k] != a.Fields[k] {
			out = append(out, fmt.Sprintf("%s: want %q, got %q", k, a.Fields[k], got[k]))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goqsync/runner/engine"
)

// applyPreviewed is 「この内容で実行」 on the preview page: it sends exactly
// the plan the page showed (runner apply), or nothing when the plan no
// longer holds; orders that another run sent or whose row changed since
// are reported stale on the run's page, not sent.
func (c *Console) applyPreviewed(w http.ResponseWriter, r *http.Request) {
	job := r.PathValue("job")
	p, ok := c.plans.get(r.PostFormValue("plan"))
	if !ok || p.Job != job {
		v := c.view(r, "preview.title", "jobs")
		v.Error = v.L.T("apply.gone", job)
		c.write(w, r, http.StatusConflict, "message", v)
		return
	}
	id, err := c.cfg.Apply(r.Context(), p)
	var changed *engine.PlanChangedError
	switch {
	case errors.As(err, &changed):
		v := c.view(r, "preview.title", "jobs")
		v.Error = v.L.T("apply.changed", strings.Join(changed.Reasons, "; "))
		c.write(w, r, http.StatusConflict, "message", v)
		return
	case err != nil:
		c.fail(w, r, "apply the previewed plan", err)
		return
	}
	c.plans.drop(r.PostFormValue("plan")) // a plan is sent once
	http.Redirect(w, r, "/history/"+strconv.FormatInt(id, 10)+"?note=apply.note", http.StatusSeeOther)
}

// previewed keeps the last plans previews showed, for an hour: a plan
// older than that is refused by apply anyway (its date windows moved).
type previewed struct {
	mu    sync.Mutex
	plans map[string]previewedPlan
}

type previewedPlan struct {
	plan *engine.SavedPlan
	at   time.Time
}

const (
	keepPlans   = 32
	keepPlanFor = time.Hour
)

func newPreviewed() *previewed { return &previewed{plans: map[string]previewedPlan{}} }

func (pv *previewed) put(p *engine.SavedPlan) string {
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	pv.mu.Lock()
	defer pv.mu.Unlock()
	now := time.Now()
	oldest := ""
	for k, e := range pv.plans {
		if now.Sub(e.at) > keepPlanFor {
			delete(pv.plans, k)
		} else if oldest == "" || e.at.Before(pv.plans[oldest].at) {
			oldest = k
		}
	}
	if len(pv.plans) >= keepPlans {
		delete(pv.plans, oldest)
	}
	pv.plans[id] = previewedPlan{p, now}
	return id
}

func (pv *previewed) get(id string) (*engine.SavedPlan, bool) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	e, ok := pv.plans[id]
	if !ok || time.Since(e.at) > keepPlanFor {
		return nil, false
	}
	return e.plan, true
}

func (pv *previewed) drop(id string) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	delete(pv.plans, id)
}

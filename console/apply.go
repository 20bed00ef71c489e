package console

import "net/http"

// applyPreviewed is 「この内容で実行」 on the preview page.
//
// It should run exactly the plan the page showed; saved plans (`runner
// plan -out`, `runner apply`) do not exist yet, so for now it runs the job
// as 今すぐ実行 does, which reads the source again, and the run page says
// so. When they exist, this is the one place to change: save the plan the
// preview computed, pass its id in the form, and apply it here.
func (c *Console) applyPreviewed(w http.ResponseWriter, r *http.Request) {
	c.queue(w, r, r.PathValue("job"), "apply.note")
}

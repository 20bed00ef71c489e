package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	sessionCookie = "runner_console"
	sessionTTL    = 12 * time.Hour
)

// keys sign sessions and CSRF tokens. With a token they derive from it, so
// that every serve process behind one address accepts the others'
// sessions, and a new token ends every session; without one they are the
// process's own.
type keys struct {
	token   string
	session []byte
	csrf    []byte
}

func newKeys(token string) (keys, error) {
	secret := []byte(token)
	if token == "" {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return keys{}, err
		}
	}
	return keys{token: token, session: mac(secret, "runner console session"), csrf: mac(secret, "runner console csrf")}, nil
}

func mac(key []byte, parts ...string) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// newSession is a cookie value: an expiry, a random id, and their MAC. It
// never holds the token.
func (k keys) newSession(now time.Time) string {
	id := make([]byte, 16)
	rand.Read(id)
	body := strconv.FormatInt(now.Add(sessionTTL).Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(id)
	return body + "." + base64.RawURLEncoding.EncodeToString(mac(k.session, body))
}

func (k keys) validSession(v string, now time.Time) bool {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return false
	}
	body, sig := v[:i], v[i+1:]
	want := base64.RawURLEncoding.EncodeToString(mac(k.session, body))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return false
	}
	exp, _, _ := strings.Cut(body, ".")
	n, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && now.Unix() < n
}

// csrfFor is the CSRF token of a session: a form posted with another
// session's token, or none, is refused.
func (k keys) csrfFor(session string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.csrf, session))
}

func (c *Console) setSession(w http.ResponseWriter, r *http.Request, v string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: v, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// session returns the request's valid session, if any.
func (c *Console) session(r *http.Request) (string, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || !c.keys.validSession(ck.Value, time.Now()) {
		return "", false
	}
	return ck.Value, true
}

type ctxKey struct{}

// signedIn lets through requests with a valid session. With a token, a
// page without one goes to the sign-in page; without a token (loopback),
// the session is made on the spot, for the CSRF token's sake. A form posted
// must carry its session's CSRF token.
func (c *Console) signedIn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(r)
		if !ok {
			if c.keys.token != "" || r.Method != http.MethodGet {
				if r.Method != http.MethodGet {
					http.Error(w, "sign in first", http.StatusForbidden)
					return
				}
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s = c.keys.newSession(time.Now())
			c.setSession(w, r, s, int(sessionTTL/time.Second))
		}
		if r.Method == http.MethodPost {
			got := r.PostFormValue("csrf")
			if subtle.ConstantTimeCompare([]byte(got), []byte(c.keys.csrfFor(s))) != 1 {
				http.Error(w, "the form is stale or not this console's: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	}
}

// csrf is the CSRF token for the forms of the page answering r.
func (c *Console) csrf(r *http.Request) string {
	s, _ := r.Context().Value(ctxKey{}).(string)
	if s == "" {
		return ""
	}
	return c.keys.csrfFor(s)
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	if c.keys.token == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin", "signin.title", "", map[string]string{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	if c.keys.token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	got := []byte(r.PostFormValue("token"))
	if subtle.ConstantTimeCompare(got, []byte(c.keys.token)) != 1 {
		v := c.view(r, "signin.title", "")
		v.Error = v.L.T("signin.wrong")
		v.D = map[string]string{"Next": next}
		c.write(w, r, http.StatusUnauthorized, "signin", v)
		return
	}
	c.setSession(w, r, c.keys.newSession(time.Now()), int(sessionTTL/time.Second))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	if s, ok := c.session(r); !ok || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(c.keys.csrfFor(s))) != 1 {
		http.Error(w, "the form is stale or not this console's", http.StatusForbidden)
		return
	}
	c.setSession(w, r, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// safeNext keeps a redirect after sign-in on this site.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "/"
	}
	return s
}

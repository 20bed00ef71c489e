package futureshop

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/goqsync/runner/engine"
)

// credentials are the attributes both the source and the destination take.
// Credential values are usually env("FUTURESHOP_…"), which the engine
// evaluates to "" while validating without the environment; so decoding
// accepts empty strings and Open checks them.
type credentials struct {
	APIDomain    string   `hcl:"api_domain"`
	ShopKey      string   `hcl:"shop_key"`
	ClientID     string   `hcl:"client_id"`
	ClientSecret string   `hcl:"client_secret"`
	RateLimit    *float64 `hcl:"rate_limit,optional"` // requests per second
	Timeout      *string  `hcl:"timeout,optional"`    // per HTTP call, a Go duration ("30s")

	// Remain holds the attributes of the source or destination itself.
	Remain hcl.Body `hcl:",remain"`
}

// config checks the parts of the credentials that are not secret and
// returns the client configuration.
func (c *credentials) config(body hcl.Body) (config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	cfg := config{
		apiDomain:    c.APIDomain,
		shopKey:      c.ShopKey,
		clientID:     c.ClientID,
		clientSecret: c.ClientSecret,
		rateLimit:    DefaultRateLimit,
		timeout:      DefaultTimeout,
	}
	if c.APIDomain != "" {
		if _, err := parseAPIDomain(c.APIDomain); err != nil {
			diags = append(diags, attrDiag(body, "api_domain", hcl.DiagError, "Invalid api_domain", err.Error()+"."))
		}
	}
	if c.RateLimit != nil {
		if *c.RateLimit <= 0 {
			diags = append(diags, attrDiag(body, "rate_limit", hcl.DiagError, "Invalid rate_limit",
				"rate_limit is requests per second and must be more than 0."))
		} else {
			cfg.rateLimit = *c.RateLimit
		}
	}
	if c.Timeout != nil {
		d, err := time.ParseDuration(*c.Timeout)
		if err != nil || d <= 0 {
			diags = append(diags, attrDiag(body, "timeout", hcl.DiagError, "Invalid timeout",
				fmt.Sprintf("timeout must be a positive duration such as \"30s\", not %q.", *c.Timeout)))
		} else {
			cfg.timeout = d
		}
	}
	return cfg, diags
}

// attrDiag builds a diagnostic pointing at an attribute's value, or at the
// body when the attribute is absent.
func attrDiag(body hcl.Body, name string, sev hcl.DiagnosticSeverity, summary, detail string) *hcl.Diagnostic {
	rng := body.MissingItemRange()
	content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: name}}})
	if content != nil {
		if a, ok := content.Attributes[name]; ok {
			rng = a.Expr.Range()
		}
	}
	return &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &rng}
}

// decodeBody decodes a source or destination body: the credentials, then
// the block's own settings (rest) from what remains. It checks the body
// against both schemas at once first, so that a misspelt credential
// (api_domian) is reported at its line with the name it misspells, not as
// a missing api_domain at the block's brace.
func decodeBody(body hcl.Body, ctx *hcl.EvalContext, creds *credentials, rest any) hcl.Diagnostics {
	schema, _ := gohcl.ImpliedBodySchema(creds)
	own, _ := gohcl.ImpliedBodySchema(rest)
	schema.Attributes = append(schema.Attributes, own.Attributes...)
	schema.Blocks = append(schema.Blocks, own.Blocks...)
	if _, diags := engine.Content(body, schema); diags.HasErrors() {
		return diags
	}
	diags := gohcl.DecodeBody(body, ctx, creds)
	if diags.HasErrors() {
		return diags
	}
	return append(diags, gohcl.DecodeBody(creds.Remain, ctx, rest)...)
}

// decodeJSON is lenient about unknown keys: futureshop adds fields, and a
// reader must not break on them.
func decodeJSON(b []byte, v any) error {
	return json.Unmarshal(b, v)
}

func normPoints(s string) (string, bool) {
	v, ok := pointsAliases[strings.TrimSpace(s)]
	return v, ok
}

// String describes the configuration without its secrets, so that printing
// a source or destination by accident (%v, %#v) shows none of them.
func (c config) String() string {
	u, err := parseAPIDomain(c.apiDomain)
	if err != nil {
		return "futureshop (no valid api_domain)"
	}
	return "futureshop " + u.Host
}

// GoString is String for %#v.
func (c config) GoString() string { return c.String() }

// identity names the shop the credentials reach: its API host and a hash of
// the shop key, never the key itself. It scopes the ledger and names the
// lock on the shop's request budget. "" when either is unset.
func (c config) identity() string {
	u, err := parseAPIDomain(c.apiDomain)
	if err != nil || strings.TrimSpace(c.shopKey) == "" {
		return ""
	}
	h := sha256.Sum256([]byte(u.Host + u.Path + "\x00" + c.shopKey))
	return "futureshop " + u.Host + u.Path + " shop " + hex.EncodeToString(h[:6])
}

// Shop names the shop for people (serve's console): the API host and the
// shop key's first four characters, never more of it. "" when either is
// unset.
func (c config) Shop() string {
	u, err := parseAPIDomain(c.apiDomain)
	key := []rune(strings.TrimSpace(c.shopKey))
	if err != nil || len(key) == 0 {
		return ""
	}
	return u.Host + u.Path + " (shop key " + string(key[:min(4, len(key))]) + "…)"
}

// shares is the lock a run talking to the shop holds: futureshop's budget
// of requests belongs to the shop, whichever job or process spends it.
func (c config) shares() []string {
	if id := c.identity(); id != "" {
		return []string{id}
	}
	return nil
}

package cxone

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/applink-dev/applink/dsl"
)

// Redacted replaces a secret in any text the sink lets out: the one mask
// of every applink output (dsl.Mask, issue 18.4).
const Redacted = dsl.Mask

// redactor knows every secret of the run (the credentials, their Basic
// encoding, every token obtained) and removes them from text. It is the one
// gate for errors, failure reasons, logs and request dumps.
type redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first, so a secret containing another is removed whole
	rep     *strings.Replacer
}

func newRedactor() *redactor { return &redactor{rep: strings.NewReplacer()} }

func (r *redactor) add(secret string) {
	if secret == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.secrets, secret) {
		return
	}
	// A secret may also travel URL- or form-encoded.
	for _, v := range []string{secret, url.QueryEscape(secret)} {
		if !slices.Contains(r.secrets, v) {
			r.secrets = append(r.secrets, v)
		}
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Redacted)
	}
	r.rep = strings.NewReplacer(pairs...)
}

// clean returns s without any known secret, nor any the one masking
// function recognises (a URL's password, an Authorization header).
func (r *redactor) clean(s string) string {
	r.mu.RLock()
	rep := r.rep
	r.mu.RUnlock()
	return dsl.MaskSecrets(rep.Replace(s))
}

// sensitiveHeaders never show their value, known secret or not.
var sensitiveHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key"}

// sensitiveFields are form and JSON keys whose value is always hidden.
var sensitiveFields = []string{"password", "username", "client_secret", "client_id", "refresh_token", "access_token", "id_token", "accessKeySecret", "accessKeyId"}

// dumpRequest renders a request for humans: method, URL, headers (sorted,
// sensitive ones hidden) and a one-line body summary, then passes the whole
// text through the redactor.
func (r *redactor) dumpRequest(method, rawURL string, h http.Header, contentType string, body []byte, bodyNote string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", method, rawURL)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := strings.Join(h[k], ", ")
		if slices.ContainsFunc(sensitiveHeaders, func(s string) bool { return strings.EqualFold(s, k) }) {
			scheme, _, found := strings.Cut(v, " ")
			if found {
				v = scheme + " " + Redacted
			} else {
				v = Redacted
			}
		}
		fmt.Fprintf(&b, "  %s: %s\n", k, v)
	}
	switch {
	case bodyNote != "":
		fmt.Fprintf(&b, "  body: %s\n", bodyNote)
	case len(body) == 0:
	default:
		fmt.Fprintf(&b, "  body: %d bytes %s\n", len(body), summarizeBody(contentType, body))
	}
	return r.clean(b.String())
}

// maxBodySummary bounds the body shown in a dump.
const maxBodySummary = 240

func summarizeBody(contentType string, body []byte) string {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return "(form, unreadable)"
		}
		for _, k := range sensitiveFields {
			if vals.Has(k) {
				vals.Set(k, Redacted)
			}
		}
		s, _ := url.QueryUnescape(vals.Encode())
		return s
	}
	s := string(body)
	if strings.HasPrefix(contentType, "application/json") {
		s = hideJSONFields(s)
	}
	if len(s) > maxBodySummary {
		cut := maxBodySummary
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// hideJSONFields blanks the string values of sensitive keys in compact JSON
// (as json.Marshal writes it) without a full parse.
func hideJSONFields(s string) string {
	for _, k := range sensitiveFields {
		key := `"` + k + `":"`
		for i := 0; ; {
			j := strings.Index(s[i:], key)
			if j < 0 {
				break
			}
			start := i + j + len(key)
			end := start
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end > len(s) {
				end = len(s)
			}
			s = s[:start] + Redacted + s[end:]
			i = start + len(Redacted)
		}
	}
	return s
}

package dsl

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Secrets never belong in a spec: it lives in version control and its
// diagnostics end up in CI logs. The scan below walks every attribute of
// every block as written (known to the schema or not) and reports a literal
// secret as an error; it also records where each secret is, so that the
// renderers (render.go, mask.go) never print it, whatever diagnostic's
// snippet happens to show its line.

// CXoneCredentialEnv are the environment variables the cxone sink reads its
// credentials from (connectors/cxone names them too; a test keeps the two
// lists equal).
var CXoneCredentialEnv = []string{envAccessKeyID, envAccessKeySecret, envClientID, envClientSecret}

const (
	envAccessKeyID     = "CXONE_ACCESS_KEY_ID"
	envAccessKeySecret = "CXONE_ACCESS_KEY_SECRET"
	envClientID        = "CXONE_CLIENT_ID"
	envClientSecret    = "CXONE_CLIENT_SECRET"
)

// cxoneCredentials maps the attribute names people write for CXone
// credentials to the variable that holds that credential ("" when the name
// does not say which).
var cxoneCredentials = map[string]string{
	"access_key":        envAccessKeyID,
	"access_key_id":     envAccessKeyID,
	"username":          envAccessKeyID, // the password grant's username is the access key id
	"user":              envAccessKeyID,
	"access_key_secret": envAccessKeySecret,
	"secret_key":        envAccessKeySecret,
	"password":          envAccessKeySecret, // and its password the access key secret
	"client_id":         envClientID,
	"client_secret":     envClientSecret,
}

// secretWords make an attribute name secret-looking.
var secretWords = []string{"password", "passwd", "secret", "token", "apikey", "api_key", "access_key", "private_key", "credential"}

func secretName(name string) bool {
	name = strings.ToLower(name)
	if name == "pwd" || name == "pass" {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// mask replaces a secret in everything rendered.
const mask = "****"

// secretSpan is a secret's bytes in a spec file, on one line (a secret
// written over several lines is one span per line, so masking never
// changes line numbers).
type secretSpan struct {
	file       string // the range filename
	start, end int    // byte offsets in the file
}

// scanSecrets walks every file's attributes, in file order.
func (d *decoder) scanSecrets(names []string) {
	suppress := map[hcl.Pos]string{} // hcl's "Unsupported argument" replaced by ours
	for _, name := range names {
		f := d.spec.HCLFiles[name]
		if f == nil {
			continue
		}
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			d.scanBody(body, nil, suppress)
		}
	}
	if len(suppress) == 0 {
		return
	}
	kept := d.diags[:0]
	for _, dg := range d.diags {
		if s := dg.Subject; s != nil && dg.Summary == "Unsupported argument" && suppress[s.Start] == s.Filename {
			continue
		}
		kept = append(kept, dg)
	}
	d.diags = kept
}

// scanBody scans a body's attributes (in source order) and its blocks; top
// is the outermost block, which says what a secret there is for.
func (d *decoder) scanBody(body *hclsyntax.Body, top *hclsyntax.Block, suppress map[hcl.Pos]string) {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	for _, a := range attrs {
		d.scanAttr(a, top, suppress)
	}
	for _, b := range body.Blocks {
		t := top
		if t == nil {
			t = b
		}
		d.scanBody(b.Body, t, suppress)
	}
}

func (d *decoder) scanAttr(a *hclsyntax.Attribute, top *hclsyntax.Block, suppress map[hcl.Pos]string) {
	name := strings.ToLower(a.Name)
	value, isLiteral := literalString(a.Expr)
	whole := func() {
		if isLiteral && value != "" {
			d.addSecret(a.Expr, value, [][2]int{{0, len(value)}})
		}
	}
	switch {
	case top != nil && top.Type == "sink" && (cxoneCredentials[name] != "" || secretName(name)):
		whole()
		suppress[a.NameRange.Start] = a.NameRange.Filename
		use := "set the variable that holds it instead"
		if v := cxoneCredentials[name]; v != "" {
			use = "set " + v + " instead"
		}
		d.errorf(a.NameRange, a.SrcRange, "Credentials in the sink block",
			"CXone credentials are never written in a spec: the cxone sink reads them from the environment variables %s. Remove %s and %s.",
			strings.Join(CXoneCredentialEnv, ", "), a.Name, use)
	case secretName(name):
		if !isLiteral || value == "" {
			return // env("NAME") is right; a misplaced attribute is hcl's error
		}
		whole()
		suppress[a.NameRange.Start] = a.NameRange.Filename
		how := fmt.Sprintf("Read it from an environment variable instead: %s = env(\"NAME\").", a.Name)
		if top != nil && top.Type == "source" {
			how = "A source's credentials belong in its DSN, read from the environment: dsn = env(\"ENGAGE_DSN\"), the password inside the variable's value."
		}
		d.errorf(a.Expr.Range(), a.SrcRange, "Secret in the spec",
			"The attribute %s holds a secret in clear text, so it ends up in version control and in logs. %s", a.Name, how)
	case isLiteral && name != "where" && name != "value":
		spans := passwordSpans(value)
		if len(spans) == 0 {
			return
		}
		d.addSecret(a.Expr, value, spans)
		summary, fix := "Literal password in "+a.Name, fmt.Sprintf("Put the value in an environment variable and read it with %s = env(\"NAME\").", a.Name)
		if name == "dsn" {
			envVar := "ENGAGE_DSN"
			if top != nil && top.Type == "state" {
				envVar = "APPLINK_STATE_DSN"
			}
			summary, fix = "Literal password in DSN", fmt.Sprintf("Did you mean dsn = env(%q)? Put the DSN in an environment variable and read it with env().", envVar)
		}
		rng, ctx := a.Expr.Range(), a.SrcRange
		// An error like every other literal secret (shared/README.md §3):
		// the DSN is the one most likely committed to a spec repository.
		d.add(hcl.DiagError, summary, fmt.Sprintf("The %s holds a password in clear text, so it ends up in version control and in logs. %s", a.Name, fix), &rng, &ctx)
	}
}

// literalString returns the value of a plain string expression (quoted or
// heredoc, no interpolation or function call).
func literalString(e hclsyntax.Expression) (string, bool) {
	if !literal(e) {
		return "", false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// addSecret records the spans (byte offsets in value) of expression e's
// literal value as secrets: where they are in the file, and the text to
// mask in free text.
func (d *decoder) addSecret(e hclsyntax.Expression, value string, spans [][2]int) {
	r := e.Range()
	src := d.src[r.Filename]
	m := mapExpr(src, r, value)
	for _, sp := range spans {
		if s := value[sp[0]:sp[1]]; s != "" {
			d.spec.secretText = append(d.spec.secretText, s)
		}
		start, end := r.Start.Byte, r.End.Byte // no exact map: the whole expression
		if m.offs != nil {
			start = m.offs[utf8.RuneCountInString(value[:sp[0]])]
			end = m.offs[utf8.RuneCountInString(value[:sp[1]])]
		}
		if start < 0 || end > len(src) || start >= end {
			continue
		}
		if raw := string(src[start:end]); raw != value[sp[0]:sp[1]] {
			d.spec.secretText = append(d.spec.secretText, raw) // as written, with escapes
		}
		// One span per line.
		for start < end {
			stop := end
			if i := strings.IndexByte(string(src[start:end]), '\n'); i >= 0 {
				stop = start + i
			}
			if stop > start {
				d.spec.secrets = append(d.spec.secrets, secretSpan{file: r.Filename, start: start, end: stop})
			}
			start = stop + 1
		}
	}
}

// MaskPasswords returns a connection string with each password replaced by
// "****", for hashing and printing what a DSN says without its secret.
func MaskPasswords(s string) string { return MaskSecrets(s) }

// passwordSpans finds the passwords of a connection string, as byte spans
// of s: the password of a URL's user info (sqlserver://user:PASS@host) and
// the value of an ADO or query key password= or pwd=.
func passwordSpans(s string) [][2]int {
	var spans [][2]int
	if i := strings.Index(s, "://"); i >= 0 {
		authStart := i + 3
		auth := s[authStart:]
		if j := strings.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndexByte(auth, '@'); at > 0 {
			if colon := strings.IndexByte(auth[:at], ':'); colon >= 0 && colon+1 < at {
				spans = append(spans, [2]int{authStart + colon + 1, authStart + at})
			}
		}
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && !strings.ContainsRune(";&?", rune(s[i])) {
			continue
		}
		seg := s[start:i]
		if k, v, ok := strings.Cut(seg, "="); ok {
			key := strings.ToLower(strings.TrimSpace(k))
			if (key == "password" || key == "pwd") && strings.TrimSpace(v) != "" {
				vs := start + len(k) + 1
				lead := len(v) - len(strings.TrimLeft(v, " \t"))
				trail := len(v) - len(strings.TrimRight(v, " \t"))
				spans = append(spans, [2]int{vs + lead, vs + len(v) - trail})
			}
		}
		start = i + 1
	}
	return spans
}

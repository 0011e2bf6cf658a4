package dsl

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestSecretDiagnostics: a literal secret anywhere is one error at a tight
// range, replacing hcl's "Unsupported argument" for the same attribute.
func TestSecretDiagnostics(t *testing.T) {
	tests := []struct {
		name, extra string
		want        []string // "POS SUMMARY"
		detail      []string // substrings of the first diagnostic's detail
	}{
		{"client_secret in the cxone sink",
			"sink \"cxone\" {\n  api_url = \"https://api.example\"\n  auth_url = \"https://auth.example\"\n  client_secret = \"Sup3rSecret!\"\n}\n",
			[]string{"s/a.hcl:14,3-16 Credentials in the sink block"},
			[]string{"CXONE_ACCESS_KEY_ID, CXONE_ACCESS_KEY_SECRET, CXONE_CLIENT_ID, CXONE_CLIENT_SECRET", "Remove client_secret and set CXONE_CLIENT_SECRET instead."}},
		{"password from env in the cxone sink is still refused",
			"sink \"cxone\" {\n  api_url = \"https://api.example\"\n  auth_url = \"https://auth.example\"\n  password = env(\"PW\")\n}\n",
			[]string{"s/a.hcl:14,3-11 Credentials in the sink block"},
			[]string{"set CXONE_ACCESS_KEY_SECRET instead"}},
		{"access_key and client_id in the cxone sink",
			"sink \"cxone\" {\n  api_url = \"https://api.example\"\n  auth_url = \"https://auth.example\"\n  access_key = \"AKIA0000\"\n  client_id = \"app\"\n}\n",
			[]string{"s/a.hcl:14,3-13 Credentials in the sink block", "s/a.hcl:15,3-12 Credentials in the sink block"},
			[]string{"set CXONE_ACCESS_KEY_ID instead"}},
		{"secret-looking attribute in a source",
			"source \"engage\" \"dc2\" {\n  driver = \"mssql\"\n  dsn = env(\"X\")\n  system_id = \"engage-acme\"\n  password = \"hunter22\"\n}\n",
			[]string{"s/a.hcl:15,14-24 Secret in the spec"},
			[]string{"The attribute password holds a secret in clear text", "dsn = env(\"ENGAGE_DSN\")"}},
		{"secret-looking attribute from env is hcl's misplaced attribute",
			"source \"engage\" \"dc2\" {\n  driver = \"mssql\"\n  dsn = env(\"X\")\n  system_id = \"engage-acme\"\n  password = env(\"PW\")\n}\n",
			[]string{"s/a.hcl:15,3-11 Unsupported argument"}, nil},
		{"top-level token",
			"api_token = <<EOT\nabcdef123456\nEOT\n",
			[]string{"s/a.hcl:11,13-13,4 Secret in the spec"},
			[]string{"api_token = env(\"NAME\")"}},
		{"password in a URL attribute",
			"sink \"cxone\" {\n  api_url = \"https://svc:pa55word@api.example\"\n  auth_url = \"https://auth.example\"\n}\n",
			[]string{"s/a.hcl:12,13-47 Literal password in api_url"},
			[]string{"api_url = env(\"NAME\")"}},
		{"an expression mentioning password= is not a secret",
			"calls {\n  where = \"call.skill != 'password=x'\"\n}\n",
			nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("s", map[string][]byte{"a.hcl": []byte(minimal + tt.extra)})
			var got []string
			for _, d := range diags {
				got = append(got, Pos(d)+" "+d.Summary)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, s := range tt.detail {
				if !strings.Contains(diags[0].Detail, s) {
					t.Errorf("detail %q lacks %q", diags[0].Detail, s)
				}
			}
		})
	}
}

func TestPasswordSpans(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sqlserver://applink:S3cretPassw0rd@db:1433?database=x", "S3cretPassw0rd"},
		{"sqlserver://a:b:c@db", "b:c"},
		{"sqlserver://a:p@ss@db/x", "p@ss"},
		{"server=db;user id=sa;Password= pw ;", "pw"},
		{"server=db;PWD=x", "x"},
		{"sqlserver://sa@db?password=pw&x=1", "pw"},
		{"sqlserver://sa:@db", ""},
		{"sqlserver://db?password=", ""},
		{"https://example/a:b@c", ""},
		{"no url at all", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, sp := range passwordSpans(tt.in) {
			got = append(got, tt.in[sp[0]:sp[1]])
		}
		if strings.Join(got, "|") != tt.want {
			t.Errorf("passwordSpans(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// maskCase is a spec whose secrets show up in every way a renderer could
// leak them: a snippet of the secret's own line, the wide context of
// another diagnostic, a subject after the secret on its line, a detail
// quoting it (as an hcl or engine diagnostic might).
const maskCase = `spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
}
source "engage" "dc1" {
  driver    = "mssql"
  dsn       = "sqlserver://applink:S3cretPassw0rd@db:1433?database=nice_cls"
  system_id = "engage-acme"
}
sink "cxone" {
  api_url       = "https://api.example"
  auth_url      = "https://auth.example"
  client_secret = "Cl1entSecretValue"
}
sink "cxone" {
  api_url       = "https://api.example"
  auth_url      = "https://auth.example"
  access_key    = "AccessKey\u00e9Value"
  # rotated, was Cl1entSecretValue
}
`

var maskSecrets = []string{"S3cretPassw0rd", "Cl1entSecretValue", "AccessKeyéValue", `AccessKey\u00e9Value`}

func maskSpec(t *testing.T) (*Spec, hcl.Diagnostics) {
	t.Helper()
	spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(maskCase)})
	src := spec.HCLFiles["s/a.hcl"].Bytes
	at := func(s string) hcl.Pos {
		i := bytes.Index(src, []byte(s))
		line := bytes.Count(src[:i], []byte("\n")) + 1
		col := i - bytes.LastIndexByte(src[:i], '\n')
		return hcl.Pos{Line: line, Column: col, Byte: i}
	}
	after := hcl.Range{Filename: "s/a.hcl", Start: at("nice_cls"), End: at("nice_cls")}
	after.End.Byte += 8
	after.End.Column += 8
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Quoted S3cretPassw0rd",
		Detail: `Value "sqlserver://applink:S3cretPassw0rd@db" and "AccessKey\u00e9Value".`, Subject: &after})
	return spec, diags
}

func TestMaskEveryRenderer(t *testing.T) {
	spec, diags := maskSpec(t)
	var summaries []string
	for _, d := range diags {
		summaries = append(summaries, d.Summary)
	}
	for _, want := range []string{"Literal password in DSN", "Credentials in the sink block", "Duplicate sink block"} {
		if !strings.Contains(strings.Join(summaries, "|"), want) {
			t.Fatalf("the case lacks %q: %v", want, summaries)
		}
	}
	var text, gh bytes.Buffer
	if err := WriteDiagnostics(&text, spec, diags, 0, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteGitHubAnnotations(&gh, spec, diags); err != nil {
		t.Fatal(err)
	}
	js, err := DiagnosticsJSON(spec, diags)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "github": gh.String(), "json": string(js)} {
		for _, s := range maskSecrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output shows %q:\n%s", name, s, out)
			}
		}
		if !strings.Contains(out, "****") {
			t.Errorf("%s output masks nothing:\n%s", name, out)
		}
	}
	// The masked line, with the caret under what the subject names.
	for _, want := range []string{
		`   8:   dsn       = "sqlserver://applink:****@db:1433?database=nice_cls"` + "\n" +
			`                                                               ^^^^^^^^` + "\n",
		`  19:   access_key    = "****"`,
		// The duplicate block's context shows its secret line masked, and
		// the same secret in a comment.
		"Error: Duplicate sink block",
		"  20:   # rotated, was ****\n",
		`  on s/a.hcl line 8, in source "engage" "dc1":`,
		`Value "sqlserver://applink:****@db" and "****".`,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	// JSON and GitHub positions point into the real file.
	if !strings.Contains(gh.String(), "::warning file=s/a.hcl,line=8,col=68,endLine=8,endColumn=76::Quoted ****") {
		t.Errorf("github:\n%s", gh.String())
	}
	if got := spec.Mask("x S3cretPassw0rd y"); got != "x **** y" {
		t.Errorf("Mask = %q", got)
	}
	if got := (*Spec)(nil).Mask("S3cretPassw0rd"); got != "S3cretPassw0rd" {
		t.Errorf("nil Mask = %q", got)
	}
}

// TestMaskOffsets: positions move into the masked copy and back.
func TestMaskOffsets(t *testing.T) {
	src := []byte("ab SECRET cd LONGERSECRET ef")
	fm := newFileMask(src, []secretSpan{{start: 13, end: 25}, {start: 3, end: 9}, {start: 4, end: 6}})
	if string(fm.src) != "ab **** cd **** ef" {
		t.Fatalf("masked %q", fm.src)
	}
	tests := []struct {
		off      int
		end      bool
		want     int
		wantOrig int // toOriginal(want)
	}{
		{0, false, 0, 0},
		{3, false, 3, 3},
		{5, false, 3, 3},
		{5, true, 7, 9},
		{9, false, 7, 9},
		{10, false, 8, 10},
		{26, false, 16, 26},
		{28, true, 18, 28},
	}
	for _, tt := range tests {
		if got := fm.toMasked(tt.off, tt.end); got != tt.want {
			t.Errorf("toMasked(%d, %v) = %d, want %d", tt.off, tt.end, got, tt.want)
		}
		if got := fm.toOriginal(tt.want); got != tt.wantOrig {
			t.Errorf("toOriginal(%d) = %d, want %d", tt.want, got, tt.wantOrig)
		}
	}
}

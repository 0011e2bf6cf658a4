package dsl

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func TestLoadClean(t *testing.T) {
	t.Setenv("APPLINK_TEST_DSN", "sqlserver://engage-db?database=nice_cls")
	dir := filepath.Join("testdata", "clean")
	spec, diags := Load(dir)
	if len(diags) > 0 {
		t.Fatalf("clean spec has diagnostics:\n%s", render(t, spec, diags))
	}
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if spec.Customer != "acme" || spec.CXoneTenant != "acme-eu1" {
		t.Errorf("customer, tenant = %q, %q", spec.Customer, spec.CXoneTenant)
	}
	if !spec.InstalledAt.Equal(ts("2026-11-01T00:00:00Z")) || !spec.BackfillRequestedAt.Equal(ts("2026-11-03T00:00:00Z")) || spec.BackfillDays != 5 {
		t.Errorf("window: installed %v, requested %v, days %d", spec.InstalledAt, spec.BackfillRequestedAt, spec.BackfillDays)
	}
	if got, want := spec.WindowStart(), ts("2026-10-29T00:00:00Z"); !got.Equal(want) {
		t.Errorf("WindowStart = %v, want %v", got, want)
	}
	if got := spec.SpecRange.String(); got != "testdata/clean/main.hcl:1,1-5" {
		t.Errorf("SpecRange = %s", got)
	}
	if len(spec.Files) != 2 || len(spec.HCLFiles) != 2 || spec.HCLFiles[filepath.Join(dir, "fields.hcl")] == nil || spec.Files["main.hcl"] == nil {
		t.Errorf("Files %d, HCLFiles %v", len(spec.Files), keys(spec.HCLFiles))
	}

	if len(spec.Sources) != 2 {
		t.Fatalf("%d sources, want 2", len(spec.Sources))
	}
	s0 := spec.Sources[0]
	if got := s0.PathRange.String(); got != "testdata/clean/main.hcl:11,15-28" {
		t.Errorf("PathRange = %s", got)
	}
	s0.DeclRange, s0.PathRange = hcl.Range{}, hcl.Range{}
	want0 := Source{Name: "dc1", Driver: "snapshot", Path: filepath.Join(dir, "data/engage"), SystemID: "engage-acme", Site: "dc1"}
	if !reflect.DeepEqual(s0, want0) {
		t.Errorf("source 0 = %+v\nwant %+v", s0, want0)
	}
	s1 := spec.Sources[1]
	s1.DeclRange = hcl.Range{}
	want1 := Source{Name: "dc2", Driver: "mssql", SystemID: "engage-acme", Site: "Frankfurt",
		DSN: "sqlserver://engage-db?database=nice_cls", DSNEnv: "APPLINK_TEST_DSN", ApplicationIntent: "ReadOnly",
		BatchSize: 5000, QueryTimeout: 2 * time.Minute, Queries: map[string]string{"calls": "SELECT 1"}}
	if !reflect.DeepEqual(s1, want1) {
		t.Errorf("source 1 = %+v\nwant %+v", s1, want1)
	}

	for _, f := range []struct {
		name string
		got  *Filter
		src  string
	}{
		{"tenant", spec.Tenant, "tenant_id == 12"},
		{"agents", spec.Agents, "!(agent.email endsWith '@test.example')"},
		{"calls", spec.Calls, "call.direction != \"internal\" &&\n  call.duration_ms > 2000\n"},
	} {
		if f.got == nil || f.got.Program == nil || f.got.Source != f.src {
			t.Errorf("%s filter = %+v, want source %q compiled", f.name, f.got, f.src)
		}
	}
	if got := spec.Calls.Range.String(); got != "testdata/clean/main.hcl:38,5-39,30" {
		t.Errorf("calls range = %s", got)
	}
	if n, ok := TenantEquals(spec.Tenant); !ok || n != 12 {
		t.Errorf("TenantEquals = %d, %v", n, ok)
	}

	if spec.Calls.ReadsBD || spec.Agents.ReadsBD || spec.Tenant.ReadsBD {
		t.Errorf("ReadsBD: calls %v, agents %v, tenant %v", spec.Calls.ReadsBD, spec.Agents.ReadsBD, spec.Tenant.ReadsBD)
	}

	type fieldSummary struct {
		Type, Name, Value, OnError string
		ReadsBD                    bool
		Direct                     Direct
	}
	var fields []fieldSummary
	for _, f := range spec.Fields {
		if f.Program == nil {
			t.Errorf("field %s not compiled", f.Name)
		}
		fields = append(fields, fieldSummary{f.Type, f.Name, f.Value, f.OnError, f.ReadsBD, f.Direct})
	}
	wantFields := []fieldSummary{
		{"text", "CustomerID", "bd.CustomerID", "omit", true, Direct{Kind: DirectText, BD: "CustomerID"}},
		{"text", "Order", `bd["Order No"]`, "omit", true, Direct{Kind: DirectText, BD: "Order No"}},
		{"number", "OrderTotal", "float(bd.OrderTotal)", "exclude", true, Direct{Kind: DirectFloat, BD: "OrderTotal"}},
		{"boolean", "VIP", "bd.Tier == 'gold'", "omit", true, Direct{Kind: DirectEqual, BD: "Tier", Lit: "gold"}},
		{"text", "Skill", "call.skill", "omit", false, Direct{}},
	}
	if !reflect.DeepEqual(fields, wantFields) {
		t.Errorf("fields = %+v\nwant %+v", fields, wantFields)
	}
	if spec.Staging.RetentionDays != 30 {
		t.Errorf("retention = %d", spec.Staging.RetentionDays)
	}
	sink := *spec.Sink
	sink.DeclRange = hcl.Range{}
	wantSink := Sink{Kind: "cxone", APIURL: "https://api-eu1.niceincontact.com", AuthURL: "https://cxone.niceincontact.com/auth/token",
		Concurrency: 8, RequestsPerSecond: 20, Timeout: 30 * time.Second}
	if !reflect.DeepEqual(sink, wantSink) {
		t.Errorf("sink = %+v\nwant %+v", sink, wantSink)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDefaults: what a minimal spec gets without saying.
func TestDefaults(t *testing.T) {
	spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(minimal)})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if spec.Staging.RetentionDays != 90 || spec.BackfillDays != DefaultBackfillDays || spec.Sink != nil ||
		spec.Tenant != nil || spec.Agents != nil || spec.Calls != nil || !spec.BackfillRequestedAt.IsZero() {
		t.Errorf("defaults: %+v", spec)
	}
	if spec.Sources[0].Site != "dc1" || spec.Sources[0].Path != filepath.Join("s", "data") {
		t.Errorf("source = %+v", spec.Sources[0])
	}
}

const minimal = `spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
}
source "engage" "dc1" {
  driver    = "duckdb"
  path      = "data"
  system_id = "engage-acme"
}
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, dir, summary string
	}{
		{"missing folder", filepath.Join("testdata", "nope"), "Cannot read spec folder"},
		{"folder without hcl", filepath.Join("testdata", "diag"), "No spec files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, diags := Load(tt.dir)
			if spec == nil || len(diags) != 1 || diags[0].Summary != tt.summary {
				t.Fatalf("got %v", diags)
			}
			checkSubjects(t, diags)
		})
	}
}

func TestMultipleFilesAndAllDiagnostics(t *testing.T) {
	// Problems in two files are all reported, in file order, in one pass.
	files := map[string][]byte{
		"b.hcl":     []byte("field \"txt\" \"A\" { value = \"bd.A\" }\nfield \"text\" \"B\" { value = \"call.skil\" }\n"),
		"a.hcl":     []byte(strings.Replace(minimal, `"duckdb"`, `"duck"`, 1)),
		"notes.txt": []byte("ignored: not .hcl"),
	}
	spec, diags := Parse("s", files)
	var got []string
	for _, d := range diags {
		got = append(got, Pos(d)+" "+d.Summary)
	}
	want := []string{
		"s/a.hcl:7,15-21 Unknown driver",
		"s/b.hcl:1,7-12 Unknown field type",
		"s/b.hcl:2,34-38 Invalid expression",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(spec.Fields) != 2 || spec.Customer != "acme" || len(spec.Files) != 2 {
		t.Errorf("partial spec not filled: %d fields, customer %q, %d files", len(spec.Fields), spec.Customer, len(spec.Files))
	}
}

func TestWindowStart(t *testing.T) {
	installed := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name      string
		requested time.Time
		days      int
		want      time.Time
	}{
		{"no backfill", time.Time{}, DefaultBackfillDays, installed},
		{"request 2 days after install reaches 5 days before it", installed.Add(2 * day), DefaultBackfillDays, installed.Add(-5 * day)},
		{"backfill_days narrows", installed.Add(2 * day), 3, installed.Add(-1 * day)},
		{"narrowed to after install stays at install", installed.Add(2 * day), 1, installed},
		{"request 10 days after install", installed.Add(10 * day), DefaultBackfillDays, installed},
		{"request at install", installed, DefaultBackfillDays, installed.Add(-7 * day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Spec{InstalledAt: installed, BackfillRequestedAt: tt.requested, BackfillDays: tt.days}
			if got := s.WindowStart(); !got.Equal(tt.want) {
				t.Errorf("WindowStart = %v, want %v", got, tt.want)
			}
		})
	}
	// Through the language: backfill_days reaches the Spec.
	src := strings.Replace(minimal, "installed_at = \"2026-11-01T00:00:00Z\"",
		"installed_at = \"2026-11-01T00:00:00Z\"\n  backfill_requested_at = \"2026-11-03T00:00:00Z\"\n  backfill_days = 3", 1)
	spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(src)})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if got, want := spec.WindowStart(), installed.Add(-day); !got.Equal(want) {
		t.Errorf("WindowStart of parsed spec = %v, want %v", got, want)
	}
}

func TestEnvAndDSN(t *testing.T) {
	t.Setenv("APPLINK_SET", "sqlserver://db?database=x")
	tests := []struct {
		name, dsn        string
		wantDSN, wantEnv string
		wantPasswordErr  string // Pos of the "Literal password in DSN" error; "" none
	}{
		{"env set", `env("APPLINK_SET")`, "sqlserver://db?database=x", "APPLINK_SET", ""},
		{"env unset reads empty", `env("APPLINK_UNSET_VARIABLE")`, "", "APPLINK_UNSET_VARIABLE", ""},
		{"env in a template", `"sqlserver://sa:${env("APPLINK_UNSET_VARIABLE")}@db"`, "sqlserver://sa:@db", "APPLINK_UNSET_VARIABLE", ""},
		{"literal without password", `"sqlserver://db?database=x"`, "sqlserver://db?database=x", "", ""},
		{"URL userinfo password", `"sqlserver://sa:pw@db"`, "sqlserver://sa:pw@db", "", "s/a.hcl:8,9-31"},
		{"ADO password key", `"server=db;user id=sa;Password=pw"`, "server=db;user id=sa;Password=pw", "", "s/a.hcl:8,9-43"},
		{"ADO pwd key", `"server=db;uid=sa;pwd=pw;"`, "server=db;uid=sa;pwd=pw;", "", "s/a.hcl:8,9-35"},
		{"URL query password", `"sqlserver://sa@db?password=pw"`, "sqlserver://sa@db?password=pw", "", "s/a.hcl:8,9-40"},
		{"user without password", `"sqlserver://sa@db"`, "sqlserver://sa@db", "", ""},
		{"heredoc", "<<EOT\nsqlserver://sa:pw@db\nEOT", "sqlserver://sa:pw@db\n", "", "s/a.hcl:8,9-10,4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(minimal, "driver    = \"duckdb\"\n  path      = \"data\"", "driver = \"mssql\"\n  dsn = "+tt.dsn, 1)
			spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(src)})
			var got string
			for _, d := range diags {
				// An error, per the spec language's contract (shared/README.md §3).
				if d.Summary != "Literal password in DSN" || d.Severity != hcl.DiagError || got != "" {
					t.Fatalf("unexpected diagnostic: %s: %s: %s", Pos(d), d.Summary, d.Detail)
				}
				got = Pos(d)
			}
			if got != tt.wantPasswordErr {
				t.Errorf("password error at %q, want %q", got, tt.wantPasswordErr)
			}
			if s := spec.Sources[0]; s.DSN != tt.wantDSN || s.DSNEnv != tt.wantEnv {
				t.Errorf("DSN, DSNEnv = %q, %q; want %q, %q", s.DSN, s.DSNEnv, tt.wantDSN, tt.wantEnv)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	cands := exprTags(reflect.TypeFor[Call]())
	tests := []struct{ name, want string }{
		{"durration", "duration_ms"},
		{"duration", "duration_ms"},
		{"skil", "skill"},
		{"Skill", "skill"},
		{"callid", "call_id"},
		{"xyz", ""},
		{"a", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.name, cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestUnusedBackfillDays(t *testing.T) {
	src := strings.Replace(minimal, "installed_at = \"2026-11-01T00:00:00Z\"", "installed_at = \"2026-11-01T00:00:00Z\"\n  backfill_days = 3", 1)
	spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(src)})
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Summary != "Unused backfill_days" || Pos(diags[0]) != "s/a.hcl:5,19-20" {
		t.Fatalf("diagnostics = %v", diags)
	}
	if !spec.WindowStart().Equal(spec.InstalledAt) {
		t.Errorf("WindowStart = %v without a backfill", spec.WindowStart())
	}
}

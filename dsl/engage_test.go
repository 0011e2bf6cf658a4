package dsl

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const engageSpec = `spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
}

source "engage" "dc1" {
  driver    = "mssql"
  dsn       = env("ENGAGE_DSN")
  system_id = "engage-acme"
  engage {
    storage_database = "nice_storage_center_2"
    schema           = "nice"
    column "duration_ms" {
      sql = "i.biInteractionDuration / 10000"
    }
    column "agents.email" {
      sql = <<-SQL
        LOWER(u.vcEmailAddress)
      SQL
    }
  }
  media {
    path_map {
      from = "\\\\nas01\\NICE"
      to   = "/mnt/nas01/NICE"
    }
    path_map {
      from = "\\\\nas02\\rec"
      to   = "mnt/nas02"
    }
  }
}
`

// TestEngageBlock decodes an engage and a media block: values, the
// columns' queries, and the ranges check and plan point at.
func TestEngageBlock(t *testing.T) {
	spec, diags := Parse("spec", map[string][]byte{"main.hcl": []byte(engageSpec)})
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", render(t, spec, diags))
	}
	e := spec.Sources[0].Engage
	if e == nil {
		t.Fatal("no engage block decoded")
	}
	if e.StorageDatabase.Value != "nice_storage_center_2" || e.Schema.Value != "nice" || e.InteractionsDatabase.Value != "" || e.AdminDatabase.Value != "" {
		t.Errorf("settings %+v", e)
	}
	if got := e.StorageDatabase.Range.String(); got != "spec/main.hcl:12,24-47" {
		t.Errorf("storage_database range %s", got)
	}
	if len(e.Columns) != 2 {
		t.Fatalf("%d columns", len(e.Columns))
	}
	c0, c1 := e.Columns[0], e.Columns[1]
	if c0.Query != QueryCalls || c0.Column != "duration_ms" || c0.Name() != "duration_ms" || c0.SQL != "i.biInteractionDuration / 10000" {
		t.Errorf("column 0 %+v", c0)
	}
	if c1.Query != QueryAgents || c1.Column != "email" || c1.Name() != "agents.email" || c1.SQL != "LOWER(u.vcEmailAddress)" {
		t.Errorf("column 1 %+v", c1)
	}
	if got := c0.Range.String(); got != "spec/main.hcl:15,13-46" {
		t.Errorf("column 0 sql range %s", got)
	}
	m := spec.Sources[0].Media
	if m == nil || len(m.PathMaps) != 2 {
		t.Fatalf("media %+v", m)
	}
	if m.PathMaps[0].From != `\\nas01\NICE` || m.PathMaps[0].To != "/mnt/nas01/NICE" {
		t.Errorf("path_map 0 %+v", m.PathMaps[0])
	}
	if want := filepath.Join("spec", "mnt/nas02"); m.PathMaps[1].To != want {
		t.Errorf("relative to = %q, want %q (against the spec folder)", m.PathMaps[1].To, want)
	}
}

func TestEngageColumnNames(t *testing.T) {
	names := EngageColumnNames()
	for _, want := range []string{"duration_ms", "media_path", "agents.email", "agents.tenant_id", "business_data.value"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s missing from %v", want, names)
		}
	}
	if slices.Contains(names, "site") || slices.Contains(names, "calls.site") {
		t.Error("site is the source block's, not an engage column")
	}
	for _, n := range names {
		q, c, ok := parseEngageColumn(n)
		if !ok || (q == QueryCalls && strings.Contains(n, ".")) || c == "" {
			t.Errorf("parseEngageColumn(%q) = %q, %q, %v", n, q, c, ok)
		}
	}
	for _, bad := range []string{"calls.duration_ms.x", "agents.", "nosuch.email", "duration"} {
		if _, _, ok := parseEngageColumn(bad); ok {
			t.Errorf("parseEngageColumn(%q) accepted", bad)
		}
	}
}

func TestEmptyMediaBlock(t *testing.T) {
	src := strings.Replace(engageSpec, engageSpec[strings.Index(engageSpec, "  media {"):strings.LastIndex(engageSpec, "}")], "  media {\n  }\n", 1)
	_, diags := Parse("spec", map[string][]byte{"main.hcl": []byte(src)})
	if len(diags) != 1 || diags[0].Summary != "Empty media block" {
		t.Fatalf("diagnostics: %v", diags)
	}
}

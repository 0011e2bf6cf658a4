package cxone

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/applink-dev/applink/dsl"
)

func decodeBlock(t *testing.T, src string) (Extra, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "sink.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "sink", LabelNames: []string{"kind"}}}})
	fields := []dsl.Field{{Type: dsl.TypeText, Name: "CustomerID"}, {Type: dsl.TypeText, Name: "Notes"}, {Type: dsl.TypeNumber, Name: "Total"}}
	return DecodeExtra(content.Blocks[0].Body, nil, fields)
}

func TestDecodeExtra(t *testing.T) {
	x, diags := decodeBlock(t, `sink "cxone" {
  api_url = "https://api.example"
  user_management_requests_per_second = 1.5
  ingestion_requests_per_second       = 20
  max_length = { CustomerID = 64, "Notes" = 500 }
  rate_limit_max_wait = "2m"
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if x.UserManagementRPS != 1.5 || x.IngestionRPS != 20 || x.MaxLength["CustomerID"] != 64 || x.MaxLength["Notes"] != 500 || x.MaxRateLimitWait != 2*time.Minute {
		t.Errorf("decoded %+v", x)
	}

	tests := []struct {
		attr string
		want string // "summary @ line:col: detail part"
	}{
		{`ingestion_requests_per_second = 0`, "Invalid ingestion_requests_per_second @ 2:35"},
		{`user_management_requests_per_second = "fast"`, "Incorrect attribute value type @ 2:41"},
		{`max_length = { Total = 10 }`, `Unknown field in max_length @ 2:18: max_length names "Total", which is not a text field of this spec (the text fields are CustomerID, Notes)`},
		{`max_length = { Notes = 10, Custmer = 3 }`, `Unknown field in max_length @ 2:30`},
		{`max_length = { Notes = 0 }`, "Invalid max_length @ 2:18: max_length of Notes must be a whole number"},
		{`max_length = { Notes = 2.5 }`, "Invalid max_length @ 2:18"},
		{`max_length = 64`, "Invalid max_length @ 2:16"},
		{`rate_limit_max_wait = "soon"`, "Invalid rate_limit_max_wait @ 2:25"},
	}
	for _, tt := range tests {
		t.Run(tt.attr, func(t *testing.T) {
			_, diags := decodeBlock(t, "sink \"cxone\" {\n  "+tt.attr+"\n}")
			if len(diags) != 1 {
				t.Fatalf("%d diagnostics, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			got := fmt.Sprintf("%s @ %d:%d: %s", d.Summary, d.Subject.Start.Line, d.Subject.Start.Column, d.Detail)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s…", got, tt.want)
			}
		})
	}
}

func TestPlanWarning(t *testing.T) {
	if PlanWarning(nil) != "" {
		t.Error("a warning without business-data fields")
	}
	w := PlanWarning([]dsl.Field{{Type: dsl.TypeText, Name: "X"}})
	for _, want := range []string{"cannot be changed once", "searchable"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %q: %s", want, w)
		}
	}
}

package dsl

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestSinkBlock: the cxone sink block's optional attributes and their
// mistakes (api_url and auth_url may be left out: discovery and the
// published issuer fill them in).
func TestSinkBlock(t *testing.T) {
	tests := []struct {
		name, body string
		want       Sink   // DeclRange ignored
		wantDiag   string // substring of the only error's summary+detail; "" for none
		wantLine   int    // line of that error within the whole file
	}{
		{name: "empty block", body: ``, want: Sink{Kind: "cxone"}},
		{name: "all new attributes", body: `
  role                              = "Agent Plus"
  external_identity                 = true
  business_data_requests_per_second = 0.5`,
			want: Sink{Kind: "cxone", Role: "Agent Plus", ExternalIdentity: true, BusinessDataRequestsPerSecond: 0.5}},
		{name: "only api_url", body: `
  api_url = "https://api-eu1.niceincontact.com"`,
			want: Sink{Kind: "cxone", APIURL: "https://api-eu1.niceincontact.com"}},
		{name: "bad rate", body: `
  business_data_requests_per_second = 0`,
			want: Sink{Kind: "cxone"}, wantDiag: "Invalid business_data_requests_per_second: business_data_requests_per_second must be greater than 0", wantLine: 12},
		{name: "empty role", body: `
  role = " "`,
			want: Sink{Kind: "cxone"}, wantDiag: "Empty role", wantLine: 12},
		{name: "external_identity not a bool", body: `
  external_identity = "maybe"`,
			want: Sink{Kind: "cxone"}, wantDiag: "Incorrect attribute value type: The attribute external_identity must be a bool", wantLine: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := minimal + "sink \"cxone\" {" + tt.body + "\n}\n"
			spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(src)})
			var errs hcl.Diagnostics
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, d)
				}
			}
			if tt.wantDiag == "" {
				if len(errs) > 0 {
					t.Fatalf("diagnostics: %v", errs)
				}
				got := *spec.Sink
				got.DeclRange = hcl.Range{}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("sink = %+v\nwant %+v", got, tt.want)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", errs)
			}
			text := errs[0].Summary + ": " + errs[0].Detail
			if !strings.Contains(text, tt.wantDiag) || errs[0].Subject == nil || errs[0].Subject.Start.Line != tt.wantLine {
				t.Errorf("error %q at %v, want %q on line %d", text, errs[0].Subject, tt.wantDiag, tt.wantLine)
			}
		})
	}
}

package cxone

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/applink-dev/applink/dsl"
)

// Extra is what a sink "cxone" block says beyond dsl.Sink: the settings
// this connector added for issue 22. dsl decodes a fixed schema today;
// until the connector descriptors (issue 18) hand the block's body to the
// connector, DecodeExtra decodes these from it and the wiring passes the
// result in Options.Extra (and the max_length map to the plan).
type Extra struct {
	// Per-family rates, requests per second (0: requests_per_second, else
	// the family's default). business_data_requests_per_second is
	// dsl.Sink.BusinessDataRequestsPerSecond.
	UserManagementRPS, IngestionRPS float64
	// MaxLength caps text fields, in characters, by field name (none by
	// default: CXone publishes no maximum). A longer value is a mapping
	// error under the field's on_error (the engine checks it).
	MaxLength map[string]int
	// MaxRateLimitWait is the longest Retry-After a run waits out before
	// it stops sending (default DefaultMaxRateLimitWait).
	MaxRateLimitWait time.Duration
}

// AttributeDoc documents one attribute of the sink block, for the
// generated reference and the README.
type AttributeDoc struct{ Name, Type, Doc string }

// ExtraAttributes document the attributes DecodeExtra reads, and auth_url
// whose gov value people need to find.
var ExtraAttributes = []AttributeDoc{
	{"auth_url", "string", `The CXone issuer (default "https://cxone.niceincontact.com"). A FedRAMP (government) tenant uses "https://cxone-gov.niceincontact.com". A URL ending in /auth/token names the token endpoint itself (discovery of the OpenID configuration is then skipped).`},
	{"user_management_requests_per_second", "number", "Requests per second to CXone's User Management API, for the whole tenant (all workers share it). Default: requests_per_second, else 2 (assumed: CXone publishes no limit for this API)."},
	{"ingestion_requests_per_second", "number", "Requests per second for calls and their media, for the whole tenant. Default: requests_per_second, else 10 (assumed: the ingestion endpoints are not published yet)."},
	{"business_data_requests_per_second", "number", "Requests per second to the Business Data API, for the whole tenant. Default: requests_per_second, else 5 (assumed)."},
	{"max_length", "map of number", `Maximum length in characters of text business-data fields, by field name, e.g. { CustomerID = 64 }. None by default (CXone publishes no maximum). A longer value is a mapping error handled by the field's on_error.`},
	{"rate_limit_max_wait", "duration", `The longest Retry-After (HTTP 429) a run waits out, default "60s". Asked to wait longer, the run stops sending: the calls not sent are excluded with reason rate_limited and sent by the next run.`},
}

// ExtraSchema is the part of the sink block's schema DecodeExtra reads;
// the descriptor merges it into the block's schema.
var ExtraSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "user_management_requests_per_second"},
	{Name: "ingestion_requests_per_second"},
	{Name: "max_length"},
	{Name: "rate_limit_max_wait"},
}}

// DecodeExtra decodes the extra attributes of a sink "cxone" block body
// (the other attributes are left to dsl) and checks them against the
// spec's fields: every problem is a diagnostic with its range, and all of
// them are reported at once.
func DecodeExtra(body hcl.Body, ectx *hcl.EvalContext, fields []dsl.Field) (Extra, hcl.Diagnostics) {
	var x Extra
	content, _, diags := body.PartialContent(ExtraSchema)
	rate := func(name string) float64 {
		a := content.Attributes[name]
		if a == nil {
			return 0
		}
		v, d := value(a, ectx, cty.Number)
		if diags = append(diags, d...); d.HasErrors() {
			return 0
		}
		f, _ := v.AsBigFloat().Float64()
		if f <= 0 {
			diags = append(diags, diag(a, "Invalid "+name, fmt.Sprintf("%s is requests per second, greater than 0; remove it for the default.", name)))
			return 0
		}
		return f
	}
	x.UserManagementRPS = rate("user_management_requests_per_second")
	x.IngestionRPS = rate("ingestion_requests_per_second")
	if a := content.Attributes["rate_limit_max_wait"]; a != nil {
		if v, d := value(a, ectx, cty.String); !d.HasErrors() {
			dur, err := time.ParseDuration(v.AsString())
			if err != nil || dur <= 0 {
				diags = append(diags, diag(a, "Invalid rate_limit_max_wait", `rate_limit_max_wait is a duration greater than 0, e.g. "60s" or "5m".`))
			} else {
				x.MaxRateLimitWait = dur
			}
		} else {
			diags = append(diags, d...)
		}
	}
	if a := content.Attributes["max_length"]; a != nil {
		x.MaxLength, diags = maxLength(a, ectx, fields, diags)
	}
	return x, diags
}

func maxLength(a *hcl.Attribute, ectx *hcl.EvalContext, fields []dsl.Field, diags hcl.Diagnostics) (map[string]int, hcl.Diagnostics) {
	v, d := a.Expr.Value(ectx)
	if diags = append(diags, d...); d.HasErrors() {
		return nil, diags
	}
	if v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil, append(diags, diag(a, "Invalid max_length", "max_length maps text field names to their maximum length in characters, e.g. max_length = { CustomerID = 64 }."))
	}
	var text []string
	for _, f := range fields {
		if f.Type == dsl.TypeText {
			text = append(text, f.Name)
		}
	}
	out := map[string]int{}
	// Each key's own range, when the expression is an object literal.
	ranges := map[string]hcl.Range{}
	if pairs, d := hcl.ExprMap(a.Expr); !d.HasErrors() {
		for _, p := range pairs {
			if k, d := p.Key.Value(ectx); !d.HasErrors() && k.Type() == cty.String {
				ranges[k.AsString()] = p.Key.Range()
			}
		}
	}
	keys := []string{}
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		keys = append(keys, k.AsString())
	}
	sort.Strings(keys)
	for _, name := range keys {
		rng, ok := ranges[name]
		if !ok {
			rng = a.Expr.Range()
		}
		at := func(summary, detail string) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr(), Context: a.Range.Ptr()})
		}
		if !slices.Contains(text, name) {
			hint := "no text field is mapped"
			if len(text) > 0 {
				hint = "the text fields are " + strings.Join(text, ", ")
			}
			at("Unknown field in max_length", fmt.Sprintf("max_length names %q, which is not a text field of this spec (%s). Only text values have a length.", name, hint))
			continue
		}
		var ev cty.Value
		if v.Type().IsMapType() {
			ev = v.Index(cty.StringVal(name))
		} else {
			ev = v.GetAttr(name)
		}
		n, err := convert.Convert(ev, cty.Number)
		if err != nil || n.IsNull() || !n.IsKnown() {
			at("Invalid max_length", fmt.Sprintf("max_length of %s must be a whole number of characters.", name))
			continue
		}
		bf := n.AsBigFloat()
		i, acc := bf.Int64()
		if acc != big.Exact || i < 1 || i > 1<<20 {
			at("Invalid max_length", fmt.Sprintf("max_length of %s must be a whole number of characters between 1 and %d.", name, 1<<20))
			continue
		}
		out[name] = int(i)
	}
	return out, diags
}

func value(a *hcl.Attribute, ectx *hcl.EvalContext, want cty.Type) (cty.Value, hcl.Diagnostics) {
	v, diags := a.Expr.Value(ectx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	cv, err := convert.Convert(v, want)
	if err != nil || cv.IsNull() || !cv.IsWhollyKnown() {
		return cty.NilVal, hcl.Diagnostics{diag(a, "Incorrect attribute value type", fmt.Sprintf("The attribute %s must be a %s.", a.Name, want.FriendlyName()))}
	}
	return cv, nil
}

func diag(a *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: a.Expr.Range().Ptr(), Context: a.Range.Ptr()}
}

// PlanWarning is what `applink plan` should say about a cxone sink that
// maps business-data fields (for the describe hook of the connector
// descriptor).
func PlanWarning(fields []dsl.Field) string {
	if len(fields) == 0 {
		return ""
	}
	return "CXone: a business-data field's type cannot be changed once the field is created in CXone, and its values are searchable there by anyone who can search interactions: check each field's type before the first run, and map nothing that should not be found by a search."
}

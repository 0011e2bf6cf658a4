package cxone

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/hashicorp/hcl/v2"
)

// Descriptor is the cxone sink: its block in the spec language (every
// setting with its doc, checked at validate time at its line) and what the
// engine calls. opts are the sink's options (tests and the demo point
// Getenv at a fake). A new setting is one more Attrs entry (and a check in
// validateSink); one the typed dsl.Sink does not hold reaches the sink in
// dsl.Sink.Settings.
func Descriptor(opts Options) connector.SinkDescriptor {
	return connector.SinkDescriptor{
		Spec: dsl.Connector{
			Block: dsl.BlockSink, Name: "cxone",
			Doc: "The NICE CXone APIs: agents through user management, calls and media through the call-import contract (connectors/cxone/CONTRACT.md), business data through the Business Data API. Credentials only from " +
				strings.Join(dsl.CXoneCredentialEnv, ", ") + ".",
			Attrs:    descriptorAttrs(),
			Validate: validateSink,
		},
		Open: func(cfg dsl.Sink, dryRun io.Writer) (connector.Sink, error) {
			o := opts
			o.DryRun = dryRun
			o.Extra = extraFromSettings(cfg.Settings)
			s, err := New(cfg, o)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return s, nil
		},
		Check: func(ctx context.Context, cfg dsl.Sink, fields []dsl.Field, w io.Writer) error {
			o := opts
			o.Extra = extraFromSettings(cfg.Settings)
			return Check(ctx, cfg, fields, w, o)
		},
		MaxLength: func(cfg dsl.Sink) map[string]int {
			return extraFromSettings(cfg.Settings).MaxLength
		},
	}
}

// descriptorAttrs are Attrs and the settings DecodeExtra reads
// (ExtraAttributes), each once, with the fuller doc.
func descriptorAttrs() []dsl.Attr {
	out := append([]dsl.Attr(nil), Attrs...)
	for _, x := range ExtraAttributes {
		i := -1
		for j := range out {
			if out[j].Name == x.Name {
				i = j
			}
		}
		if i >= 0 {
			out[i].Doc = x.Doc
			continue
		}
		out = append(out, dsl.Attr{Name: x.Name, Type: x.Type, Doc: x.Doc})
	}
	return out
}

// extraFromSettings is Extra from the sink block's descriptor-only
// settings (dsl.Sink.Settings), which survive the sink's JSON form (a
// delivery job carries it); validate has checked them with DecodeExtra.
func extraFromSettings(s map[string]any) Extra {
	var x Extra
	num := func(name string) float64 {
		f, _ := s[name].(float64)
		return f
	}
	x.UserManagementRPS, x.IngestionRPS = num("user_management_requests_per_second"), num("ingestion_requests_per_second")
	if m, ok := s["max_length"].(map[string]any); ok {
		x.MaxLength = map[string]int{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				x.MaxLength[k] = int(f)
			}
		}
	}
	if d, ok := s["rate_limit_max_wait"].(string); ok {
		x.MaxRateLimitWait, _ = time.ParseDuration(d)
	}
	return x
}

// Attrs are the sink block's settings, as the reference page lists them.
var Attrs = []dsl.Attr{
	{Name: "api_url", Type: "URL", Default: "discovered from the tenant", Doc: "the tenant's API host"},
	{Name: "auth_url", Type: "URL", Default: DefaultIssuer, Doc: "the OAuth2 issuer (or its token endpoint)"},
	{Name: "concurrency", Type: "number", Default: fmt.Sprint(DefaultConcurrency), Doc: "requests in flight, 1..256"},
	{Name: "requests_per_second", Type: "number", Default: fmt.Sprint(DefaultRequestsPerSecond), Doc: "requests per second for the whole tenant: the default of each endpoint family's rate below"},
	{Name: "business_data_requests_per_second", Type: "number", Default: "requests_per_second", Doc: "the Business Data API's own rate limit"},
	{Name: "timeout", Type: "duration", Default: DefaultTimeout.String(), Doc: "of one request"},
	{Name: "calls_path", Type: "string", Default: DefaultCallsPath, Doc: "the API path calls are POSTed to; starts with /"},
	{Name: "media_path", Type: "string", Default: DefaultMediaPath, Doc: "the API path a call's media is PUT to; starts with / and holds {call_id}"},
	{Name: "role", Type: "string", Default: DefaultAgentRole, Doc: "the CXone role of the users created for agents"},
	{Name: "external_identity", Type: "bool", Default: "false", Doc: "write the Engage user id into the CXone user's externalIdentity"},
}

// validateSink checks the settings New would refuse, at validate time and
// at their line (issue 18.3: a bad setting is not found by the first run).
func validateSink(b *dsl.ConnectorBlock) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if b.Body != nil {
		_, diags = DecodeExtra(b.Body, b.EvalContext, b.Fields)
	}
	s := b.Sink
	for _, p := range []struct{ name, value string }{{"calls_path", s.CallsPath}, {"media_path", s.MediaPath}} {
		a := b.Attrs[p.name]
		if a == nil || p.value == "" {
			continue
		}
		if !strings.HasPrefix(p.value, "/") {
			diags = append(diags, b.Error(a, "Invalid "+p.name,
				"%s is a path on the tenant's API host and starts with /, for example %q; %q does not.", p.name, defaultPath(p.name), p.value))
		}
	}
	if a := b.Attrs["media_path"]; a != nil && s.MediaPath != "" && !strings.Contains(s.MediaPath, "{call_id}") {
		diags = append(diags, b.Error(a, "Invalid media_path",
			"media_path holds the placeholder {call_id}, which each call's id replaces, for example %q; %q has none.", DefaultMediaPath, s.MediaPath))
	}
	for _, u := range []struct{ name, value string }{{"api_url", s.APIURL}, {"auth_url", s.AuthURL}} {
		a := b.Attrs[u.name]
		if a == nil || u.value == "" {
			continue
		}
		if _, err := checkBaseURL(u.name, u.value); err != nil {
			diags = append(diags, b.Error(a, "Invalid "+u.name, "%s.", strings.TrimPrefix(err.Error(), "cxone: ")))
		}
	}
	return diags
}

func defaultPath(name string) string {
	if name == "calls_path" {
		return DefaultCallsPath
	}
	return DefaultMediaPath
}

// Delivered says what the run delivered to CXone (connector.DeliveryCounter),
// for the summary and the report: users, calls acknowledged, media files
// and the calls whose business data was written. Read after Commit.
func (s *Sink) Delivered() []connector.Delivered {
	st := s.Stats()
	return []connector.Delivered{
		{What: "agents created", N: st.AgentsCreated},
		{What: "agents updated", N: st.AgentsUpdated},
		{What: "calls", N: st.CallsAcked},
		{What: "media files", N: st.Media},
		{What: "calls with business data", N: st.BusinessData},
	}
}

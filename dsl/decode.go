package dsl

import (
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// decoder turns the blocks of a spec folder into a Spec, collecting every
// diagnostic instead of stopping at the first.
type decoder struct {
	spec  *Spec
	src   map[string][]byte // file contents by range filename, for expression positions
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
	first string // the first file's range name, for spec-wide diagnostics

	seen    map[string]*hcl.Block // singleton blocks by type
	srcDecl []sourceDecl          // per Spec.Sources entry, for cross-source checks
	fldDecl []*hcl.Block          // per Spec.Fields entry
	times   struct{ installed, backfill *hcl.Attribute }
	bfDays  *hcl.Attribute

	conns      Connectors       // the build's connectors; nil: the language alone
	connBlocks []connectorBlock // decoded blocks, for their connectors' Validate
}

// sourceDecl remembers where a source's system_id was written.
type sourceDecl struct {
	block    *hcl.Block
	systemID *hcl.Attribute
}

// evalContext offers env("NAME") and nothing else: a spec has no variables.
func evalContext() *hcl.EvalContext {
	return &hcl.EvalContext{Functions: map[string]function.Function{"env": envFunc}}
}

// envFunc reads an environment variable; an unset one reads as "" so that a
// spec validates on a machine without the secrets (the connector names the
// variable when it is needed and empty).
var envFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "name", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(os.Getenv(args[0].AsString())), nil
	},
})

func (d *decoder) add(sev hcl.DiagnosticSeverity, summary, detail string, subject, context *hcl.Range) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: subject, Context: context})
}

func (d *decoder) errorf(subject, context hcl.Range, summary, format string, args ...any) {
	d.add(hcl.DiagError, summary, fmt.Sprintf(format, args...), &subject, &context)
}

func (d *decoder) decodeBlocks(blocks []*hcl.Block) {
	d.seen = map[string]*hcl.Block{}
	for _, b := range blocks {
		if _, single := singletonNames[b.Type]; single {
			if prev := d.seen[b.Type]; prev != nil {
				d.errorf(b.DefRange, blockRange(b), "Duplicate "+b.Type+" block",
					"A spec has at most one %s block; the first is at %s. Merge this block into it or remove it.", b.Type, rangeStart(prev.DefRange))
				continue
			}
			d.seen[b.Type] = b
		}
		switch b.Type {
		case "spec":
			d.decodeSpec(b)
		case "source":
			d.decodeSource(b)
		case "tenant":
			d.spec.Tenant = d.decodeFilter(b, TenantEnv{}, exprBool)
		case "agents":
			d.spec.Agents = d.decodeFilter(b, AgentEnv{}, exprBool)
		case "calls":
			d.spec.Calls = d.decodeFilter(b, CallEnv{}, exprBool)
		case "field":
			d.decodeField(b)
		case "staging":
			d.decodeStaging(b)
		case "sink":
			d.decodeSink(b)
		case "state":
			d.decodeState(b)
		case scheduleBlock.Type:
			d.decodeSchedule(b)
		}
	}
}

func (d *decoder) decodeSpec(b *hcl.Block) {
	s := d.spec
	s.SpecRange = b.DefRange
	c, diags := b.Body.Content(specSchema)
	d.diags = append(d.diags, diags...)
	s.Customer = d.nonEmpty(c.Attributes["customer"])
	s.CXoneTenant = d.nonEmpty(c.Attributes["cxone_tenant"])
	if a := c.Attributes["installed_at"]; a != nil {
		s.InstalledAt, _ = d.timestamp(a)
		d.times.installed = a
	}
	if a := c.Attributes["backfill_requested_at"]; a != nil {
		s.BackfillRequestedAt, _ = d.timestamp(a)
		d.times.backfill = a
	}
	if a := c.Attributes["backfill_days"]; a != nil {
		d.bfDays = a
		if n, ok := d.intIn(a, 1, DefaultBackfillDays, "Invalid backfill_days",
			"A backfill reaches at most %[2]d days before it was requested (the seed's rule); set backfill_days between %[1]d and %[2]d, or remove it for %[2]d."); ok {
			s.BackfillDays = n
		}
	}
}

func (d *decoder) decodeSource(b *hcl.Block) {
	c, diags := b.Body.Content(d.blockSchema(BlockSource, sourceSchema))
	d.diags = append(d.diags, diags...)
	if kind := b.Labels[0]; kind != "engage" {
		d.errorf(b.LabelRanges[0], b.DefRange, "Unknown source type",
			"The source type %q is not supported; the only source type is \"engage\".%s", kind, didYouMean(kind, sourceKinds))
	}
	src := Source{Name: b.Labels[1], DeclRange: b.DefRange, Site: b.Labels[1]}
	for i, prev := range d.spec.Sources {
		if prev.Name == src.Name {
			d.errorf(b.LabelRanges[1], b.DefRange, "Duplicate source name",
				"A source named %q is already declared at %s. Give each site of the Engage system its own name.", src.Name, rangeStart(d.srcDecl[i].block.DefRange))
		}
	}
	driverAttr := c.Attributes["driver"]
	if driverAttr != nil {
		if v, ok := d.str(driverAttr); ok {
			src.Driver = v
			if drivers := d.names(BlockSource, Drivers); !contains(drivers, v) {
				d.errorf(driverAttr.Expr.Range(), driverAttr.Range, "Unknown driver",
					"The driver %q is not known; use one of %s.%s", v, quoteList(drivers), didYouMean(v, drivers))
			}
		}
	}
	if a := c.Attributes["path"]; a != nil {
		src.PathRange = a.Expr.Range()
		if v, ok := d.str(a); ok && v != "" {
			src.Path = v
			if !filepath.IsAbs(v) {
				src.Path = filepath.Join(d.spec.Dir, v)
			}
		}
	}
	sysAttr := c.Attributes["system_id"]
	src.SystemID = d.nonEmpty(sysAttr)
	if a := c.Attributes["site"]; a != nil {
		if v := d.nonEmpty(a); v != "" {
			src.Site = v
		}
	}
	if a := c.Attributes["dsn"]; a != nil {
		src.DSN, _ = d.str(a)
		src.DSNEnv = envName(a.Expr, d.ctx) // a literal password is an error of the secrets scan
	}
	if a := c.Attributes["application_intent"]; a != nil {
		if v, ok := d.str(a); ok {
			src.ApplicationIntent = v
			if v != "" && !contains(intents, v) {
				d.errorf(a.Expr.Range(), a.Range, "Unknown application_intent",
					"application_intent is %s, or absent for the server's default.%s", quoteList(intents), didYouMean(v, intents))
			}
		}
	}
	if a := c.Attributes["batch_size"]; a != nil {
		src.BatchSize, _ = d.intIn(a, 1, 1_000_000, "Invalid batch_size", "batch_size is a number of rows between %d and %d.")
	}
	if a := c.Attributes["query_timeout"]; a != nil {
		src.QueryTimeout, _ = d.duration(a)
	}
	var queries *hcl.Block
	for _, qb := range c.Blocks {
		if qb.Type != "queries" {
			continue // engage and media: decodeSourceBlocks (engage.go)
		}
		if queries != nil {
			d.errorf(qb.DefRange, blockRange(qb), "Duplicate queries block",
				"A source has at most one queries block; the first is at %s. Merge them.", rangeStart(queries.DefRange))
			continue
		}
		queries = qb
		attrs, diags := qb.Body.JustAttributes()
		d.diags = append(d.diags, diags...)
		src.Queries = map[string]string{}
		for name, a := range attrs {
			if v := d.nonEmpty(a); v != "" {
				src.Queries[name] = v
			}
		}
	}

	d.decodeSourceBlocks(&src, c.Blocks)

	missing := b.Body.MissingItemRange()
	switch src.Driver {
	case "snapshot", "duckdb":
		if c.Attributes["path"] == nil {
			what := "snapshot folder"
			if src.Driver == "duckdb" {
				what = "DuckDB file"
			}
			d.errorf(missing, b.DefRange, "Missing path",
				"A %s source reads a %s: set path to it, relative to the spec folder (for example path = \"data/engage\").", src.Driver, what)
		}
	case "mssql":
		if c.Attributes["dsn"] == nil {
			d.errorf(missing, b.DefRange, "Missing dsn",
				"An mssql source connects with a DSN: set dsn = env(\"ENGAGE_DSN\") and put the connection string in that environment variable.")
		}
	}
	d.spec.Sources = append(d.spec.Sources, src)
	d.srcDecl = append(d.srcDecl, sourceDecl{block: b, systemID: sysAttr})
	d.connBlocks = append(d.connBlocks, connectorBlock{block: BlockSource, name: src.Driver,
		cb: ConnectorBlock{Range: b.DefRange, Attrs: c.Attributes, Body: b.Body}, source: len(d.spec.Sources) - 1})
}

func (d *decoder) decodeFilter(b *hcl.Block, env any, want exprKind) *Filter {
	c, diags := b.Body.Content(filterSchema)
	d.diags = append(d.diags, diags...)
	a := c.Attributes["where"]
	if a == nil {
		return nil
	}
	ce, ok := d.compile(a, env, want, b.Type+" where")
	if !ok {
		return nil
	}
	root := ce.prog.Node()
	f := &Filter{Block: b.Type, Source: ce.text, Program: ce.prog, Range: ce.rng, pos: ce.pos,
		ReadsBD: readsIdent(root, "bd"), BDNames: bdNames(root)}
	if b.Type == "tenant" {
		f.TenantID = tenantEquals(root)
	}
	return f
}

func (d *decoder) decodeField(b *hcl.Block) {
	c, diags := b.Body.Content(fieldSchema)
	d.diags = append(d.diags, diags...)
	f := Field{Type: b.Labels[0], Name: b.Labels[1], Decl: b.DefRange, OnError: OnErrorOmit}
	want := exprKind(-1)
	switch f.Type {
	case TypeText:
		want = exprString
	case TypeNumber:
		want = exprFloat
	case TypeBoolean:
		want = exprBool
	default:
		d.errorf(b.LabelRanges[0], b.DefRange, "Unknown field type",
			"The field type %q is not known; CXone business data is %s.%s", f.Type, quoteList(fieldTypes), didYouMean(f.Type, fieldTypes))
	}
	if f.Name == "" {
		d.errorf(b.LabelRanges[1], b.DefRange, "Empty field name", "A field needs a name: the CXone business-data field it fills.")
	}
	if a := c.Attributes["on_error"]; a != nil {
		if v, ok := d.str(a); ok {
			if contains(onErrors, v) {
				f.OnError = v
			} else {
				d.errorf(a.Expr.Range(), a.Range, "Invalid on_error",
					"on_error is %q (leave the field out of the call) or %q (exclude the call as mapping_error).%s", OnErrorOmit, OnErrorExclude, didYouMean(v, onErrors))
			}
		}
	}
	if a := c.Attributes["value"]; a != nil {
		f.Range = a.Expr.Range()
		if want >= 0 {
			if ce, ok := d.compile(a, CallEnv{}, want, f.Type+" field value"); ok {
				f.Value, f.Program, f.Range, f.pos = ce.text, ce.prog, ce.rng, ce.pos
				root := ce.prog.Node()
				f.ReadsBD, f.Direct, f.BDNames = readsIdent(root, "bd"), directShape(root, f.Type), bdNames(root)
			}
		} else if v, ok := d.str(a); ok {
			f.Value = v
		}
	}
	d.spec.Fields = append(d.spec.Fields, f)
	d.fldDecl = append(d.fldDecl, b)
}

func (d *decoder) decodeStaging(b *hcl.Block) {
	c, diags := b.Body.Content(stagingSchema)
	d.diags = append(d.diags, diags...)
	if a := c.Attributes["retention_days"]; a != nil {
		if n, ok := d.intIn(a, 1, 3650, "Invalid retention_days",
			"retention_days is how long staged calls are kept: between %d and %d days (the default is 90)."); ok {
			d.spec.Staging.RetentionDays = n
		}
	}
}

func (d *decoder) decodeSink(b *hcl.Block) {
	c, diags := b.Body.Content(d.blockSchema(BlockSink, sinkSchema))
	d.diags = append(d.diags, diags...)
	if kinds := d.names(BlockSink, sinkKinds); !contains(kinds, b.Labels[0]) {
		d.errorf(b.LabelRanges[0], b.DefRange, "Unknown sink",
			"The sink %q is not supported; a spec's sink block configures %s (the outbox is chosen on the command line).%s", b.Labels[0], quoteList(kinds), didYouMean(b.Labels[0], kinds))
	}
	s := &Sink{Kind: b.Labels[0], DeclRange: b.DefRange}
	s.APIURL = d.url(c.Attributes["api_url"])
	s.AuthURL = d.url(c.Attributes["auth_url"])
	if a := c.Attributes["concurrency"]; a != nil {
		s.Concurrency, _ = d.intIn(a, 1, 256, "Invalid concurrency", "concurrency is the number of requests in flight, between %d and %d.")
	}
	s.RequestsPerSecond = d.rate(c.Attributes["requests_per_second"])
	s.BusinessDataRequestsPerSecond = d.rate(c.Attributes["business_data_requests_per_second"])
	if a := c.Attributes["role"]; a != nil {
		s.Role = d.nonEmpty(a)
	}
	if a := c.Attributes["external_identity"]; a != nil {
		if v, ok := d.value(a, cty.Bool); ok {
			s.ExternalIdentity = v.True()
		}
	}
	if a := c.Attributes["timeout"]; a != nil {
		s.Timeout, _ = d.duration(a)
	}
	if a := c.Attributes["calls_path"]; a != nil {
		s.CallsPath, _ = d.str(a)
	}
	if a := c.Attributes["media_path"]; a != nil {
		s.MediaPath, _ = d.str(a)
	}
	if d.conns != nil {
		typed := map[string]bool{}
		for _, a := range sinkSchema.Attributes {
			typed[a.Name] = true
		}
		s.Settings = d.settings(s.Kind, c.Attributes, typed)
	}
	d.spec.Sink = s
	d.connBlocks = append(d.connBlocks, connectorBlock{block: BlockSink, name: s.Kind,
		cb: ConnectorBlock{Range: b.DefRange, Attrs: c.Attributes, Sink: s, Body: b.Body}})
}

// rate reads an optional requests-per-second attribute (> 0); 0 when absent.
func (d *decoder) rate(a *hcl.Attribute) float64 {
	if a == nil {
		return 0
	}
	v, ok := d.number(a)
	if !ok {
		return 0
	}
	f, _ := v.Float64()
	if f <= 0 {
		d.errorf(a.Expr.Range(), a.Range, "Invalid "+a.Name, "%s must be greater than 0; remove it for the default.", a.Name)
		return 0
	}
	return f
}

// value evaluates an attribute and converts it to want.
func (d *decoder) value(a *hcl.Attribute, want cty.Type) (cty.Value, bool) {
	v, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		d.errorf(a.Expr.Range(), a.Range, "Invalid value", "The attribute %s must not be null.", a.Name)
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil || !cv.IsWhollyKnown() {
		d.errorf(a.Expr.Range(), a.Range, "Incorrect attribute value type",
			"The attribute %s must be a %s, not a %s.", a.Name, want.FriendlyName(), v.Type().FriendlyName())
		return cty.NilVal, false
	}
	return cv, true
}

func (d *decoder) str(a *hcl.Attribute) (string, bool) {
	if a == nil {
		return "", false
	}
	v, ok := d.value(a, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

// nonEmpty reads a string attribute that must not be blank.
func (d *decoder) nonEmpty(a *hcl.Attribute) string {
	v, ok := d.str(a)
	if ok && strings.TrimSpace(v) == "" {
		if env := envName(a.Expr, d.ctx); env != "" {
			d.errorf(a.Expr.Range(), a.Range, "Empty "+a.Name,
				"The attribute %s reads env(%q), and the environment variable %s is unset or empty. Set %s, or write the value in the spec.", a.Name, env, env, env)
			return v
		}
		d.errorf(a.Expr.Range(), a.Range, "Empty "+a.Name, "The attribute %s must not be empty.", a.Name)
	}
	return v
}

func (d *decoder) number(a *hcl.Attribute) (*big.Float, bool) {
	v, ok := d.value(a, cty.Number)
	if !ok {
		return nil, false
	}
	return v.AsBigFloat(), true
}

// intIn reads a whole number in lo..hi; detail is a format taking lo and hi.
func (d *decoder) intIn(a *hcl.Attribute, lo, hi int, summary, detail string) (int, bool) {
	f, ok := d.number(a)
	if !ok {
		return 0, false
	}
	n, acc := f.Int64()
	if acc != big.Exact || n < int64(lo) || n > int64(hi) {
		d.errorf(a.Expr.Range(), a.Range, summary, detail, lo, hi)
		return 0, false
	}
	return int(n), true
}

func (d *decoder) timestamp(a *hcl.Attribute) (time.Time, bool) {
	v, ok := d.str(a)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		d.errorf(a.Expr.Range(), a.Range, "Invalid timestamp",
			"The attribute %s must be an RFC 3339 timestamp with a time zone, such as \"2026-11-01T00:00:00Z\"; %q is not one.", a.Name, v)
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) duration(a *hcl.Attribute) (time.Duration, bool) {
	v, ok := d.str(a)
	if !ok {
		return 0, false
	}
	t, err := time.ParseDuration(v)
	if err != nil || t <= 0 {
		d.errorf(a.Expr.Range(), a.Range, "Invalid duration",
			"The attribute %s must be a positive duration such as \"30s\" or \"2m\"; %q is not one.", a.Name, v)
		return 0, false
	}
	return t, true
}

func (d *decoder) url(a *hcl.Attribute) string {
	v := d.nonEmpty(a)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		d.errorf(a.Expr.Range(), a.Range, "Invalid URL",
			"The attribute %s must be an absolute http(s) URL such as \"https://api-eu1.niceincontact.com\"; %q is not one.", a.Name, v)
	}
	return v
}

// envName returns the variable named by the first env("NAME") call in e, so
// a run-time error can say which variable to set.
func envName(e hcl.Expression, ctx *hcl.EvalContext) string {
	se, ok := e.(hclsyntax.Expression)
	if !ok {
		return ""
	}
	var name string
	hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
		fc, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || fc.Name != "env" || len(fc.Args) != 1 || name != "" {
			return nil
		}
		if v, diags := fc.Args[0].Value(ctx); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			name = v.AsString()
		}
		return nil
	})
	return name
}

// literal reports whether e is a plain string with no interpolation or call.
func literal(e hcl.Expression) bool {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return true
	case *hclsyntax.TemplateExpr:
		for _, p := range e.Parts {
			if _, ok := p.(*hclsyntax.LiteralValueExpr); !ok {
				return false
			}
		}
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// rangeStart is "FILE:LINE,COL", how details point at another place.
func rangeStart(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// blockRange is a block from its type keyword to its closing brace, the
// Context of block-level diagnostics.
func blockRange(b *hcl.Block) hcl.Range {
	if sb, ok := b.Body.(*hclsyntax.Body); ok {
		return hcl.RangeBetween(b.DefRange, sb.SrcRange)
	}
	return b.DefRange
}

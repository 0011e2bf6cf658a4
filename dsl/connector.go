package dsl

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Connector describes one connector's block to the spec language, the way
// benthos's component specs do: its attributes with their docs, and the
// checks validate runs on a decoded block, reported as diagnostics at the
// attribute's line. Each connector declares one (connectors/*/descriptor.go);
// cmd hands the build's set to LoadWith, the registry holds them next to the
// connector's open, check and describe, and the reference page is rendered
// from them (WriteReference), so the three cannot drift.
type Connector struct {
	Block string // BlockSource, BlockSink or BlockState
	Name  string // the driver (source, state) or the kind (sink)
	Doc   string // a sentence for the reference page
	Attrs []Attr
	// Validate checks one decoded block at validate time (optional).
	Validate func(b *ConnectorBlock) hcl.Diagnostics
}

// Blocks a Connector describes.
const (
	BlockSource = "source"
	BlockSink   = "sink"
	BlockState  = "state"
)

// Attr is one attribute of a connector's block.
type Attr struct {
	Name     string
	Type     string // as the reference page names it: string, number, bool, duration, URL, env("NAME")…
	Required bool
	Default  string // what an absent attribute means ("" none)
	Doc      string
}

// ConnectorBlock is what a Connector's Validate checks: the block as
// written and as decoded (exactly one of Source, Sink, State is set).
type ConnectorBlock struct {
	Range  hcl.Range                 // the block's header
	Attrs  map[string]*hcl.Attribute // the attributes as written, by name
	Source *Source
	Sink   *Sink
	State  *State
	// Body, EvalContext and Fields let a connector decode settings of its
	// own from the block (env() works in them) and check them against the
	// spec's fields.
	Body        hcl.Body
	EvalContext *hcl.EvalContext
	Fields      []Field
}

// EvalContext is the evaluation context of spec attributes: env("NAME")
// and nothing else.
func EvalContext() *hcl.EvalContext { return evalContext() }

// Error is a diagnostic at attribute a's value (its whole block when a is
// nil), for Validate.
func (b *ConnectorBlock) Error(a *hcl.Attribute, summary, format string, args ...any) *hcl.Diagnostic {
	subject, context := b.Range, b.Range
	if a != nil {
		subject, context = a.Expr.Range(), a.Range
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &subject, Context: &context}
}

// Connectors is the set a build offers.
type Connectors []Connector

// Find returns the connector of a block and name, or nil.
func (cs Connectors) Find(block, name string) *Connector {
	for i := range cs {
		if cs[i].Block == block && cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// Names lists the connectors of a block, in the set's order.
func (cs Connectors) Names(block string) []string {
	var out []string
	for _, c := range cs {
		if c.Block == block {
			out = append(out, c.Name)
		}
	}
	return out
}

// LoadOptions are what LoadWith needs beyond the folder.
type LoadOptions struct {
	// Connectors are the build's: driver and sink names are checked against
	// them and each block is validated by its connector. Without them only
	// the spec language itself is checked (the language's built-in names).
	Connectors Connectors
}

// LoadWith is Load with the build's connectors.
func LoadWith(dir string, opts LoadOptions) (*Spec, hcl.Diagnostics) {
	return load(dir, opts)
}

// ParseWith is Parse with the build's connectors.
func ParseWith(dir string, files map[string][]byte, opts LoadOptions) (*Spec, hcl.Diagnostics) {
	return parse(dir, files, opts)
}

// names is the list of known names of a block: the connectors' when the
// decoder has them, else the language's built-in list.
func (d *decoder) names(block string, builtin []string) []string {
	if d.conns == nil {
		return builtin
	}
	return d.conns.Names(block)
}

// blockSchema is a block's schema: common attributes, then every attribute
// a connector of that block declares (decoding picks what the block's
// connector reads; validation says what does not belong).
func (d *decoder) blockSchema(block string, base *hcl.BodySchema) *hcl.BodySchema {
	if d.conns == nil {
		return base
	}
	s := &hcl.BodySchema{Blocks: base.Blocks}
	seen := map[string]bool{}
	for _, a := range base.Attributes {
		s.Attributes = append(s.Attributes, a)
		seen[a.Name] = true
	}
	for _, c := range d.conns {
		if c.Block != block {
			continue
		}
		for _, a := range c.Attrs {
			if !seen[a.Name] {
				seen[a.Name] = true
				s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name})
			}
		}
	}
	return s
}

// connectorBlock remembers a decoded block for its connector's Validate.
type connectorBlock struct {
	block, name string
	cb          ConnectorBlock
	source      int // index into Spec.Sources of a source block (the slice grows while decoding)
}

// validateConnectors runs each block's connector's Validate.
func (d *decoder) validateConnectors() {
	if d.conns == nil {
		return
	}
	for i := range d.connBlocks {
		cb := &d.connBlocks[i]
		if cb.block == BlockSource {
			cb.cb.Source = &d.spec.Sources[cb.source]
		}
		cb.cb.EvalContext, cb.cb.Fields = d.ctx, d.spec.Fields
		c := d.conns.Find(cb.block, cb.name)
		if c == nil || c.Validate == nil {
			continue
		}
		d.diags = append(d.diags, c.Validate(&cb.cb)...)
	}
}

// settings reads the attributes of a sink block that the connector
// declares but the typed Sink does not hold, into Sink.Settings: a
// connector adds a setting in its descriptor alone and reads it there.
func (d *decoder) settings(kind string, attrs hcl.Attributes, typed map[string]bool) map[string]any {
	c := d.conns.Find(BlockSink, kind)
	if c == nil {
		return nil
	}
	var out map[string]any
	for _, a := range c.Attrs {
		attr := attrs[a.Name]
		if attr == nil || typed[a.Name] {
			continue
		}
		v, diags := attr.Expr.Value(d.ctx)
		d.diags = append(d.diags, diags...)
		if diags.HasErrors() || v.IsNull() || !v.IsWhollyKnown() {
			continue
		}
		var goV any
		switch {
		case v.Type() == cty.Bool:
			goV = v.True()
		case v.Type() == cty.Number:
			f, _ := v.AsBigFloat().Float64()
			goV = f
		case v.Type().IsPrimitiveType():
			sv, err := convert.Convert(v, cty.String)
			if err != nil {
				continue
			}
			goV = sv.AsString()
		default:
			// A map or an object (max_length = { CustomerID = 64 }): its
			// JSON form, decoded; the connector checks the shape.
			b, err := ctyjson.Marshal(v, v.Type())
			if err != nil || json.Unmarshal(b, &goV) != nil {
				continue
			}
		}
		if out == nil {
			out = map[string]any{}
		}
		out[a.Name] = goV
	}
	return out
}

// WriteReference renders the connectors' attributes as a Markdown page:
// the reference a consultant reads, generated from the descriptors (a test
// keeps the checked-in page equal to them).
func WriteReference(w io.Writer, cs Connectors) error {
	var b strings.Builder
	b.WriteString("# Connector reference\n\n")
	b.WriteString("Generated from the connectors' descriptors (`connectors/*/descriptor.go`) by\n")
	b.WriteString("`go test ./cmd/applink -run TestConnectorReference -update-reference`; do not edit by hand.\n")
	for _, block := range []struct{ name, title, intro string }{
		{BlockSource, "Sources", "`source \"engage\" NAME { driver = \"…\" … }`: every source block also has `driver`, `system_id` (required) and `site` (default: the block's name)."},
		{BlockSink, "Sinks", "`sink \"KIND\" { … }`; without a sink block a run writes the outbox folder (`run --out`)."},
		{BlockState, "State", "`state { driver = \"…\" … }`; without a state block the state is `.applink/state.duckdb` beside the spec."},
	} {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n", block.title, block.intro)
		var list []Connector
		for _, c := range cs {
			if c.Block == block.name {
				list = append(list, c)
			}
		}
		sort.SliceStable(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		for _, c := range list {
			fmt.Fprintf(&b, "\n### %s `%s`\n\n%s\n\n", block.name, c.Name, c.Doc)
			b.WriteString("| attribute | type | required | default | what |\n|---|---|---|---|---|\n")
			for _, a := range c.Attrs {
				req := ""
				if a.Required {
					req = "yes"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", a.Name, a.Type, req, mdCell(a.Default), mdCell(a.Doc))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

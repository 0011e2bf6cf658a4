package engine

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/hashicorp/hcl/v2"
)

// Findings are mistakes of the spec that only the data shows: a
// business-data name no row carries (a typo loses the field on every call,
// silently) and a field empty on every imported call. A run reports them as
// warnings at the top of its summary; `check` exits 1 on them and a spec's
// fixture test fails.

// Finding is one mistake of the spec that the data shows.
type Finding struct {
	Kind string `json:"kind"` // FindingUnknownBD or FindingEmptyField
	Text string `json:"text"` // for people: what, where in the spec, and the fix
	// Suggest is the name seen in the data that the spec's name is a likely
	// typo of ("" when none is close).
	Suggest string `json:"suggest,omitempty"`
}

// Kinds of Finding.
const (
	FindingUnknownBD  = "unknown_bd"  // a bd name no row of the source carries
	FindingEmptyField = "empty_field" // a field empty on every imported call
)

func (f Finding) String() string { return f.Text }

// DeliveredText is "208 calls, 200 media files, …".
func DeliveredText(d []connector.Delivered) string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = fmt.Sprintf("%d %s", x.N, x.What)
	}
	return strings.Join(parts, ", ")
}

// BDNameFindings compares the business-data names the plan reads by name
// (bd.X in fields and the calls filter) with the names the source carries,
// and returns one finding per name no row carries, with a did-you-mean from
// the names seen.
// A source without any business data says nothing about names: none then.
func BDNameFindings(plan *Plan, seen []string) []Finding {
	if len(seen) == 0 {
		return nil
	}
	have := make(map[string]bool, len(seen))
	for _, n := range seen {
		have[n] = true
	}
	sorted := append([]string(nil), seen...)
	sort.Strings(sorted)
	var out []Finding
	check := func(what string, rng hcl.Range, names []string) {
		for _, n := range names {
			if have[n] {
				continue
			}
			out = append(out, Finding{Kind: FindingUnknownBD, Suggest: dsl.Suggest(n, sorted),
				Text: fmt.Sprintf("%s (%s): bd.%s: no business data of the source is named %q.%s",
					what, specPos(plan, rng), n, n, dsl.DidYouMean(n, sorted))})
		}
	}
	if plan.Calls != nil {
		check("calls filter", plan.Calls.Range, plan.Calls.BDNames)
	}
	for _, f := range plan.Fields {
		check(fmt.Sprintf("field %q", f.Name), f.Range, f.BDNames)
	}
	return out
}

// EmptyFieldFindings names each field that no imported call got a value
// for, with its expression: valued counts the calls with a value, by field.
// A field in skip (by index) is left out: a finding on its bd name says
// more.
func EmptyFieldFindings(plan *Plan, valued []int, imported int, skip map[int]bool) []Finding {
	if imported == 0 {
		return nil
	}
	var out []Finding
	for i, f := range plan.Fields {
		if i < len(valued) && valued[i] == 0 && !skip[i] {
			out = append(out, Finding{Kind: FindingEmptyField, Text: fmt.Sprintf("field %q (%s): empty on every one of the %d imported calls; its value is %s",
				f.Name, specPos(plan, f.Range), imported, oneLine(f.Value))})
		}
	}
	return out
}

// specPos is "main.hcl:12,11": a range relative to the spec folder.
func specPos(plan *Plan, r hcl.Range) string {
	name := r.Filename
	if rel, err := filepath.Rel(plan.SpecDir, name); err == nil && plan.SpecDir != "" {
		name = rel
	}
	return fmt.Sprintf("%s:%d,%d", name, r.Start.Line, r.Start.Column)
}

// findings are the run's findings on the data it read: names seen in the
// business data of this run's calls (none read: nothing to judge).
func (ev *evaluator) findings() []Finding {
	if ev.sum.SourceRows == 0 {
		return nil
	}
	var seen []string
	for si, names := range ev.names {
		if si >= len(ev.gen) {
			break
		}
		// A name id carries a generation stamp only when a row of the
		// source had it (indexBD); ids the fields looked up have none.
		for id, g := range ev.gen[si] {
			if g != 0 {
				seen = append(seen, names.Name(int32(id)))
			}
		}
	}
	out := BDNameFindings(ev.plan, seen)
	have := make(map[string]bool, len(seen))
	for _, n := range seen {
		have[n] = true
	}
	skip := map[int]bool{}
	for i, f := range ev.plan.Fields {
		if len(seen) == 0 {
			break
		}
		for _, n := range f.BDNames {
			if !have[n] {
				skip[i] = true
			}
		}
	}
	imported := ev.sum.Calls.Count(connector.StateImported) + ev.sum.Calls.Count(connector.StateQueued)
	return append(out, EmptyFieldFindings(ev.plan, ev.valued, imported, skip)...)
}

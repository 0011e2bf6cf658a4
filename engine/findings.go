package engine

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/applink-dev/applink/dsl"
	"github.com/hashicorp/hcl/v2"
)

// Findings are mistakes of the spec that only the data shows: a
// business-data name no row carries (a typo loses the field on every call,
// silently) and a field empty on every imported call. A run reports them as
// warnings at the top of its summary; `check` exits 1 on them and a spec's
// fixture test fails.

// BDNameFindings compares the business-data names the plan reads by name
// (bd.X in fields and the calls filter) with the names the source carries,
// and returns one finding per name no row carries, with a did-you-mean from
// the names seen.
func BDNameFindings(plan *Plan, seen []string) []string {
	have := make(map[string]bool, len(seen))
	for _, n := range seen {
		have[n] = true
	}
	sorted := append([]string(nil), seen...)
	sort.Strings(sorted)
	var out []string
	check := func(what string, rng hcl.Range, names []string) {
		for _, n := range names {
			if have[n] {
				continue
			}
			out = append(out, fmt.Sprintf("%s (%s): bd.%s: no business data of the source is named %q.%s",
				what, specPos(plan, rng), n, n, dsl.DidYouMean(n, sorted)))
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
func EmptyFieldFindings(plan *Plan, valued []int, imported int, skip map[int]bool) []string {
	if imported == 0 {
		return nil
	}
	var out []string
	for i, f := range plan.Fields {
		if i < len(valued) && valued[i] == 0 && !skip[i] {
			out = append(out, fmt.Sprintf("field %q (%s): empty on every one of the %d imported calls; its value is %s",
				f.Name, specPos(plan, f.Range), imported, f.Value))
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
func (ev *evaluator) findings() []string {
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
		for _, n := range f.BDNames {
			if !have[n] {
				skip[i] = true
			}
		}
	}
	imported := ev.sum.Calls.Count(StateImported) + ev.sum.Calls.Count(StateQueued)
	return append(out, EmptyFieldFindings(ev.plan, ev.valued, imported, skip)...)
}

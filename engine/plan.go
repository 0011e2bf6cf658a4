package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// Plan is what a run executes: everything it needs from the spec, compiled.
// It prints (String) and has a stable hash (Hash) over what it will do, so two
// runs with equal hashes treat the same source identically.
type Plan struct {
	SpecDir     string
	SpecHash    string            // sha256 over the spec files' names and contents
	SpecFiles   map[string][]byte // the spec files, so a saved plan can be checked and rebuilt
	Customer    string
	CXoneTenant string
	SystemID    string

	Window Window

	Sources []dsl.Source
	Tenant  *dsl.Filter
	Agents  *dsl.Filter
	Calls   *dsl.Filter
	Fields  []dsl.Field
	Staging dsl.Staging
	Sink    *dsl.Sink
	State   *dsl.State // where the state lives; nil: the DuckDB file (not part of the hash)
	// Schedule is how often serve runs the spec (not part of the hash: it
	// changes when, not what).
	Schedule dsl.Schedule

	// Mappings, by source index, say how each source fills the canonical
	// columns (nil for a driver without a describer); set by Describe.
	Mappings []*connector.SourceMapping

	fields []fieldPlan // how each field is evaluated (fast paths)
	hash   string
}

// Window is the import window: calls with start_time ≥ From are in.
type Window struct {
	From                time.Time
	InstalledAt         time.Time
	BackfillRequestedAt time.Time // zero: no backfill
	BackfillDays        int
}

// Compile turns a validated spec into a plan. The spec must have no error
// diagnostics; Compile re-checks only what the engine itself relies on.
func Compile(spec *dsl.Spec) (*Plan, error) {
	if spec == nil {
		return nil, fmt.Errorf("compile: no spec")
	}
	if len(spec.Sources) == 0 {
		return nil, fmt.Errorf("compile: the spec has no source")
	}
	p := &Plan{
		SpecDir:     spec.Dir,
		SpecFiles:   spec.Files,
		SpecHash:    hashFiles(spec.Files),
		Customer:    spec.Customer,
		CXoneTenant: spec.CXoneTenant,
		SystemID:    spec.Sources[0].SystemID,
		Window: Window{
			From:                spec.WindowStart(),
			InstalledAt:         spec.InstalledAt,
			BackfillRequestedAt: spec.BackfillRequestedAt,
			BackfillDays:        spec.BackfillDays,
		},
		Sources:  spec.Sources,
		Tenant:   spec.Tenant,
		Agents:   spec.Agents,
		Calls:    spec.Calls,
		Fields:   spec.Fields,
		Staging:  spec.Staging,
		Sink:     spec.Sink,
		State:    spec.State,
		Schedule: spec.Schedule,
	}
	if p.Window.BackfillDays == 0 && !p.Window.BackfillRequestedAt.IsZero() {
		p.Window.BackfillDays = dsl.DefaultBackfillDays
	}
	for _, s := range spec.Sources {
		if s.SystemID != p.SystemID {
			return nil, fmt.Errorf("compile: sources %q and %q belong to different Engage systems (%q, %q); one CXone tenant takes one Engage system",
				spec.Sources[0].Name, s.Name, p.SystemID, s.SystemID)
		}
	}
	for _, f := range []*dsl.Filter{p.Tenant, p.Agents, p.Calls} {
		if f != nil && f.Program == nil {
			return nil, fmt.Errorf("compile: filter %q is not compiled (validate the spec first)", f.Source)
		}
	}
	p.fields = make([]fieldPlan, len(p.Fields))
	for i := range p.Fields {
		fp, err := planField(&p.Fields[i])
		if err != nil {
			return nil, fmt.Errorf("compile: field %q: %w", p.Fields[i].Name, err)
		}
		p.fields[i] = fp
	}
	canon, err := json.Marshal(p.canonical())
	if err != nil {
		return nil, fmt.Errorf("compile: hashing the plan: %w", err)
	}
	sum := sha256.Sum256(canon)
	p.hash = hex.EncodeToString(sum[:])
	return p, nil
}

// Hash identifies what the plan does (not where the spec lives): a sha256
// over its canonical value, so any change of a source's settings, its
// queries, the sink, staging, the window, a filter or a field makes a saved
// plan another plan.
func (p *Plan) Hash() string { return p.hash }

// planValue is the canonical value a plan hash is taken over: everything a
// run acts on, in a fixed shape, JSON-encoded (maps sorted by key).
// dsl.Source and dsl.Sink are taken whole, so a setting added to them is
// covered without changing this; their json:"-" fields (ranges, the
// resolved DSN) are not part of what the plan does.
type planValue struct {
	Format      int // bump when the meaning of a field changes
	Customer    string
	CXoneTenant string
	SystemID    string
	Window      Window
	Sources     []sourceValue
	Filters     map[string]string // block -> expression as written
	Fields      []fieldValue
	Staging     dsl.Staging
	Sink        *dsl.Sink
	Rules       []string // the engine's rule chain, in order: a build with other rules is another plan
}

type sourceValue struct {
	dsl.Source
	RelPath    string // Path relative to the spec folder: moving the folder keeps the hash
	DSNLiteral string // the DSN when written in the spec; one from env() is named by DSNEnv only
}

type fieldValue struct {
	Type, Name, Value, OnError string
}

func (p *Plan) canonical() planValue {
	v := planValue{Format: 1, Customer: p.Customer, CXoneTenant: p.CXoneTenant, SystemID: p.SystemID,
		Window: p.Window, Filters: map[string]string{}, Staging: p.Staging, Sink: p.Sink}
	// One instant, one spelling: 01:00+01:00 and 00:00Z are the same window.
	w := &v.Window
	w.From, w.InstalledAt, w.BackfillRequestedAt = w.From.UTC(), w.InstalledAt.UTC(), w.BackfillRequestedAt.UTC()
	for _, s := range p.Sources {
		sv := sourceValue{Source: s, RelPath: p.relPath(s.Path)}
		sv.Path = ""
		if s.DSNEnv == "" {
			// A literal password is only a warning: it is left out of the
			// plan's value (changing it does not change what the plan does).
			sv.DSNLiteral = dsl.MaskPasswords(s.DSN)
		}
		v.Sources = append(v.Sources, sv)
	}
	for _, f := range []*dsl.Filter{p.Tenant, p.Agents, p.Calls} {
		if f != nil {
			v.Filters[f.Block] = f.Source
		}
	}
	for _, f := range p.Fields {
		v.Fields = append(v.Fields, fieldValue{f.Type, f.Name, f.Value, f.OnError})
	}
	for _, r := range AgentRules {
		v.Rules = append(v.Rules, "agent:"+r.Reason)
	}
	for _, r := range CallRules {
		v.Rules = append(v.Rules, "call:"+r.Reason)
	}
	return v
}

// String is the human-readable plan, as `applink plan` prints it.
func (p *Plan) String() string { return p.render() }

// Describe asks each source's driver for its mapping (reg.Describe), so
// String prints it. It connects to nothing. The mappings derive from the
// spec files, which the plan's hashes already cover.
func (p *Plan) Describe(reg Registry) error {
	p.Mappings = make([]*connector.SourceMapping, len(p.Sources))
	for i, s := range p.Sources {
		d := reg.Source(s.Driver)
		if d == nil || d.Describe == nil {
			continue
		}
		m, err := d.Describe(s)
		if err != nil {
			return fmt.Errorf("source %q: %w", s.Name, err)
		}
		p.Mappings[i] = m
	}
	return nil
}

// writeMapping renders one source's mapping: canonical ← expression, and
// where each came from.
func writeMapping(b *strings.Builder, name string, m *connector.SourceMapping) {
	fmt.Fprintf(b, "\nmapping of source %s:\n", name)
	for _, n := range m.Notes {
		fmt.Fprintf(b, "  %s\n", n)
	}
	for _, sec := range []struct {
		title, arrow string
		items        []connector.MappingItem
	}{{"settings", "=", m.Settings}, {"tables", "=", m.Tables}, {"columns", "<-", m.Columns}} {
		if len(sec.items) == 0 {
			continue
		}
		width := 0
		for _, it := range sec.items {
			width = max(width, len(it.Name))
		}
		fmt.Fprintf(b, "  %s:\n", sec.title)
		for _, it := range sec.items {
			fmt.Fprintf(b, "    %-*s %s %s  [%s]\n", width, it.Name, sec.arrow, oneLine(it.Value), it.Origin)
		}
	}
}

func hashFiles(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (p *Plan) relPath(path string) string {
	if path == "" || p.SpecDir == "" {
		return path
	}
	if rel, err := filepath.Rel(p.SpecDir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}

func (p *Plan) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan: customer %q -> CXone tenant %q\n", p.Customer, p.CXoneTenant)
	fmt.Fprintf(&b, "hash: %s\n", p.hash[:16])
	fmt.Fprintf(&b, "\nsources (Engage system %q):\n", p.SystemID)
	for _, s := range p.Sources {
		loc := p.relPath(s.Path)
		if s.Driver == "mssql" {
			loc = "dsn from " + dsnOrigin(s)
			if s.ApplicationIntent != "" {
				loc += ", application_intent=" + s.ApplicationIntent
			}
		}
		fmt.Fprintf(&b, "  %-10s driver=%-8s site=%-8s %s\n", s.Name, s.Driver, s.Site, loc)
	}
	// The hash covers the spec files the mappings derive from.
	for i, m := range p.Mappings {
		if m != nil && i < len(p.Sources) {
			writeMapping(&b, p.Sources[i].Name, m)
		}
	}
	b.WriteString("\nwindow:\n")
	fmt.Fprintf(&b, "  calls with start_time >= %s (inclusive), no upper bound\n", p.Window.From.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "  installed_at          %s\n", p.Window.InstalledAt.UTC().Format(time.RFC3339))
	if p.Window.BackfillRequestedAt.IsZero() {
		b.WriteString("  backfill              none\n")
	} else {
		fmt.Fprintf(&b, "  backfill_requested_at %s, reaching back %d days\n",
			p.Window.BackfillRequestedAt.UTC().Format(time.RFC3339), p.Window.BackfillDays)
	}
	b.WriteString("\nagent rules, in order:\n")
	for i, r := range AgentRules {
		fmt.Fprintf(&b, "  %2d. %-20s %s\n", i+1, r.Reason, r.Doc)
	}
	b.WriteString("\ncall rules, in order (the first that applies gives the reason):\n")
	for i, r := range CallRules {
		fmt.Fprintf(&b, "  %2d. %-20s %s\n", i+1, r.Reason, r.Doc)
	}
	fmt.Fprintf(&b, "  then imported; without an agent (%s) when its agent ID maps to no synced agent\n", connector.ReasonAgentUnmapped)
	b.WriteString("\nfilters:\n")
	for _, f := range []struct {
		name string
		f    *dsl.Filter
	}{{"tenant", p.Tenant}, {"agents", p.Agents}, {"calls", p.Calls}} {
		if f.f == nil {
			fmt.Fprintf(&b, "  %-7s (none: all pass)\n", f.name)
			continue
		}
		fmt.Fprintf(&b, "  %-7s %s\n", f.name, oneLine(f.f.Source))
	}
	counts := map[string]int{}
	for _, f := range p.Fields {
		counts[f.Type]++
	}
	fmt.Fprintf(&b, "\nfields (%d text of %d, %d number of %d, %d boolean of %d):\n",
		counts[dsl.TypeText], dsl.FieldLimits[dsl.TypeText],
		counts[dsl.TypeNumber], dsl.FieldLimits[dsl.TypeNumber],
		counts[dsl.TypeBoolean], dsl.FieldLimits[dsl.TypeBoolean])
	for i, f := range p.Fields {
		mode := ""
		if i < len(p.fields) && p.fields[i].kind != fieldVM {
			mode = "  [direct]"
		}
		fmt.Fprintf(&b, "  %-8s %-24s = %-32s on_error=%s%s\n", f.Type, f.Name, oneLine(f.Value), f.OnError, mode)
	}
	return b.String()
}

func dsnOrigin(s dsl.Source) string {
	if s.DSNEnv != "" {
		return "env(" + s.DSNEnv + ")"
	}
	return "literal"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

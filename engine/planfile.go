package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
)

// planFileFormat names the saved-plan format; a file of another format is
// refused rather than misread.
const planFileFormat = "applink-plan/1"

// PlanFile is a saved plan (`applink plan DIR --out FILE`): the spec files it
// was compiled from, their hash, the plan hash and the source watermarks it
// was computed against. Running it recompiles those saved files, never the
// folder, after checking the folder has not changed since (like a stale plan
// in terraform).
type PlanFile struct {
	Format     string               `json:"format"`
	SpecDir    string               `json:"spec_dir"`
	SpecHash   string               `json:"spec_hash"`
	PlanHash   string               `json:"plan_hash"`
	Created    time.Time            `json:"created"`
	Watermarks map[string]Watermark `json:"watermarks"`
	Files      map[string][]byte    `json:"files"`
}

// SavePlan writes a plan file.
func SavePlan(w io.Writer, p *Plan, watermarks map[string]Watermark, now time.Time) error {
	pf := PlanFile{Format: planFileFormat, SpecDir: p.SpecDir, SpecHash: p.SpecHash, PlanHash: p.Hash(),
		Created: now.UTC(), Watermarks: watermarks, Files: p.SpecFiles}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(pf)
}

// ReadPlanFile reads a plan file.
func ReadPlanFile(r io.Reader) (*PlanFile, error) {
	var pf PlanFile
	if err := json.NewDecoder(r).Decode(&pf); err != nil {
		return nil, fmt.Errorf("not a plan file: %w", err)
	}
	if pf.Format != planFileFormat {
		return nil, fmt.Errorf("not a plan file of this applink (format %q, want %q)", pf.Format, planFileFormat)
	}
	return &pf, nil
}

// StaleError names the spec files that changed since a plan was saved.
type StaleError struct {
	Dir     string
	Changed []string // "main.hcl (changed)", "extra.hcl (new)", "old.hcl (removed)"
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the plan is stale: spec %s changed since it was saved: %v; run `applink plan` again", e.Dir, e.Changed)
}

// Check compares the plan's spec files with the folder on disk. The CLI
// also calls CheckWatermarks before running a saved plan.
func (pf *PlanFile) Check(dir string) error {
	now := map[string][]byte{}
	matches, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			return fmt.Errorf("read spec: %w", err)
		}
		now[filepath.Base(m)] = b
	}
	var changed []string
	for name, old := range pf.Files {
		cur, ok := now[name]
		switch {
		case !ok:
			changed = append(changed, name+" (removed)")
		case string(cur) != string(old):
			changed = append(changed, name+" (changed)")
		}
	}
	for name := range now {
		if _, ok := pf.Files[name]; !ok {
			changed = append(changed, name+" (new)")
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		return &StaleError{Dir: dir, Changed: changed}
	}
	return nil
}

// WatermarkError says which sources were read since a plan was saved: the
// plan was computed against a state that is no longer the state.
type WatermarkError struct {
	Sources []string // one per source that moved: "dc1: saved C2 at …, the state now has C9 at …"
}

func (e *WatermarkError) Error() string {
	return fmt.Sprintf("the plan is stale: the state was changed by a run since it was saved (source %s); run `applink plan` again",
		strings.Join(e.Sources, "; source "))
}

// CheckWatermarks compares the watermarks saved with the plan with the
// state's current ones (nil or empty: a state without runs), and names every
// source whose watermark differs.
func (pf *PlanFile) CheckWatermarks(current map[string]Watermark) error {
	names := map[string]bool{}
	for n := range pf.Watermarks {
		names[n] = true
	}
	for n := range current {
		names[n] = true
	}
	var moved []string
	for n := range names {
		saved, okS := pf.Watermarks[n]
		now, okN := current[n]
		if okS == okN && saved.CallID == now.CallID && saved.StartTime.Equal(now.StartTime) {
			continue
		}
		moved = append(moved, fmt.Sprintf("%s: saved %s, the state now has %s", n, describeWatermark(saved, okS), describeWatermark(now, okN)))
	}
	if len(moved) == 0 {
		return nil
	}
	sort.Strings(moved)
	return &WatermarkError{Sources: moved}
}

func describeWatermark(w Watermark, ok bool) string {
	if !ok {
		return "no watermark"
	}
	return fmt.Sprintf("call %s at %s", w.CallID, w.StartTime.UTC().Format(time.RFC3339))
}

// Plan recompiles the saved spec files (not the folder) into the plan, and
// checks it is the plan that was saved.
func (pf *PlanFile) Plan(dir string) (*Plan, error) { return pf.PlanWith(dir, Registry{}) }

// PlanWith is Plan with the build's connectors, as the plan was compiled:
// a sink's descriptor-only settings and what its Plan hook sets are part
// of the hash.
func (pf *PlanFile) PlanWith(dir string, reg Registry) (*Plan, error) {
	spec, diags := dsl.ParseWith(dir, pf.Files, dsl.LoadOptions{Connectors: reg.Connectors()})
	if diags.HasErrors() {
		return nil, fmt.Errorf("saved spec does not validate: %s", diags.Error())
	}
	p, err := Compile(spec)
	if err != nil {
		return nil, err
	}
	if err := reg.PrepareSink(p); err != nil {
		return nil, err
	}
	if p.Hash() != pf.PlanHash {
		return nil, fmt.Errorf("the saved plan compiles to another plan (hash %s, saved %s): this applink differs from the one that saved it; run `applink plan` again", short(p.Hash()), short(pf.PlanHash))
	}
	return p, nil
}

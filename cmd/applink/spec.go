package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/hashicorp/hcl/v2"
)

// defaultDiagFormat: text (with snippets), or github (annotation lines plus
// the text) in CI.
func defaultDiagFormat() string {
	if os.Getenv("CI") == "true" {
		return "github"
	}
	return "text"
}

// loadSpec loads and validates a spec folder, printing its diagnostics. It
// returns the spec only when it has no errors, and how many diagnostics it
// printed.
// With sources, the registry's connectors check that each source's folder or
// file can be opened (a spec's fixture tests do without).
func loadSpec(dir string, format string, std stdio, sources bool) (*dsl.Spec, int, int) {
	return loadSpecTo(dir, format, std, true, sources)
}

// loadSpecTo is loadSpec; with json, the diagnostics go to stdout when they
// are the verb's output (validate, or any verb when the spec has errors) and
// to stderr otherwise, so stdout stays one JSON document.
func loadSpecTo(dir string, format string, std stdio, diagsAreOutput, sources bool) (*dsl.Spec, int, int) {
	if msg := specFolderProblem(dir); msg != "" {
		fmt.Fprintf(std.err, "applink: %s\n", msg)
		return nil, 0, exitUsage
	}
	reg := registry()
	// The build's connectors check their blocks (names, settings) at
	// validate time, each at its line.
	spec, diags := dsl.LoadWith(dir, dsl.LoadOptions{Connectors: reg.Connectors()})
	if sources {
		diags = engine.CheckSources(spec, diags, reg)
	}
	if format == "json" && !diagsAreOutput && !diags.HasErrors() {
		std.out = std.err
	}
	printDiags(std, spec, diags, format)
	if diags.HasErrors() {
		return nil, len(diags), exitFindings
	}
	return spec, len(diags), exitOK
}

// specFolderProblem says what is wrong with dir as a spec folder, for a
// one-line usage error ("" when it holds *.hcl files): a folder that does
// not exist says so, an empty one says it holds no *.hcl.
func specFolderProblem(dir string) string {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("the spec folder %s does not exist", dir)
	case err != nil:
		return fmt.Sprintf("cannot read the spec folder %s: %v", dir, err)
	case !st.IsDir():
		return fmt.Sprintf("%s is a file, not a spec folder: give the folder that holds the spec's *.hcl files", dir)
	}
	hcl, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if len(hcl) == 0 {
		return fmt.Sprintf("the folder %s holds no *.hcl file: a spec folder has a spec block and a source block in one or more .hcl files", dir)
	}
	return ""
}

func printDiags(std stdio, spec *dsl.Spec, diags hcl.Diagnostics, format string) {
	if len(diags) == 0 {
		return
	}
	switch format {
	case "json":
		b, err := dsl.DiagnosticsJSON(spec, diags)
		if err != nil {
			fmt.Fprintf(std.err, "applink: %v\n", err)
			return
		}
		fmt.Fprintln(std.out, string(b))
		return
	case "github":
		dsl.WriteGitHubAnnotations(std.out, spec, diags)
	}
	// Each diagnostic opens with FILE:LINE,COL-… (what editors and grep
	// understand), then hcl's rendering with the snippet.
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		fmt.Fprintf(std.err, "%s: %s: %s\n", dsl.Pos(d), sev, d.Summary)
		_ = dsl.WriteDiagnostics(std.err, spec, hcl.Diagnostics{d}, 100, false)
	}
	errs, warns := countDiags(diags)
	fmt.Fprintf(std.err, "%s\n", plural(errs, "error")+", "+plural(warns, "warning"))
}

func countDiags(diags hcl.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// compile loads a spec, checks its sources can be opened, and compiles its
// plan.
func compile(dir, format string, std stdio) (*engine.Plan, int) {
	return compileSources(dir, format, std, true)
}

// compileSources is compile; without sources, the sources are not checked
// (restore resends staged data and reads no source).
func compileSources(dir, format string, std stdio, sources bool) (*engine.Plan, int) {
	spec, _, code := loadSpecTo(dir, format, std, false, sources)
	if spec == nil {
		return nil, code
	}
	plan, err := engine.Compile(spec)
	if err == nil {
		err = registry().PrepareSink(plan) // what the sink's settings say of the mapping (max_length)
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return nil, exitFindings
	}
	return plan, exitOK
}

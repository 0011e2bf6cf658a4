package main

import (
	"fmt"
	"os"

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
func loadSpec(dir string, format string, std stdio) (*dsl.Spec, int, int) {
	return loadSpecTo(dir, format, std, true)
}

// loadSpecTo is loadSpec; with json, the diagnostics go to stdout when they
// are the verb's output (validate, or any verb when the spec has errors) and
// to stderr otherwise, so stdout stays one JSON document.
func loadSpecTo(dir string, format string, std stdio, diagsAreOutput bool) (*dsl.Spec, int, int) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(std.err, "applink: %s is not a spec folder\n", dir)
		return nil, 0, exitUsage
	}
	spec, diags := dsl.Load(dir)
	if format == "json" && !diagsAreOutput && !diags.HasErrors() {
		std.out = std.err
	}
	printDiags(std, spec, diags, format)
	if diags.HasErrors() {
		return nil, len(diags), exitFindings
	}
	return spec, len(diags), exitOK
}

func printDiags(std stdio, spec *dsl.Spec, diags hcl.Diagnostics, format string) {
	if len(diags) == 0 {
		return
	}
	switch format {
	case "json":
		b, err := dsl.DiagnosticsJSON(diags)
		if err != nil {
			fmt.Fprintf(std.err, "applink: %v\n", err)
			return
		}
		fmt.Fprintln(std.out, string(b))
		return
	case "github":
		dsl.WriteGitHubAnnotations(std.out, diags)
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

// compile loads a spec and compiles its plan.
func compile(dir, format string, std stdio) (*engine.Plan, int) {
	spec, _, code := loadSpecTo(dir, format, std, false)
	if spec == nil {
		return nil, code
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		fmt.Fprintf(std.err, "applink: %v\n", err)
		return nil, exitFindings
	}
	return plan, exitOK
}

package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/applink-dev/applink/conformance"
)

// cmdConformance runs the conformance suite: the built-in one, or the cases
// (*.txtar) of DIR. It prints one line per case, the diff of each failure,
// and ends with "conformance: N passed, M failed".
func cmdConformance(ctx context.Context, args []string, std stdio) int {
	c := newCommand("conformance", "[DIR]", std)
	upd := c.fs.Bool("update", false, "rewrite each case's expect/ sections with what the engine does now (needs DIR; review the diff)")
	runRE := c.fs.String("run", "", "run only the cases whose name matches this `REGEXP`")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintf(std.err, "applink conformance: expected at most one folder of cases, got %d arguments\n", len(pos))
		c.usageLine(std.err)
		return exitUsage
	}
	filter, code, ok := compileRun(*runRE, "conformance", std)
	if !ok {
		return code
	}
	var cases []*conformance.Case
	var err error
	if len(pos) == 1 {
		if st, serr := os.Stat(pos[0]); serr != nil || !st.IsDir() {
			fmt.Fprintf(std.err, "applink conformance: %s is not a folder of cases\n", pos[0])
			return exitUsage
		}
		cases, err = conformance.ReadDir(pos[0])
	} else {
		if *upd {
			fmt.Fprintln(std.err, "applink conformance: --update rewrites case files: give the folder (e.g. conformance/cases)")
			return exitUsage
		}
		cases, err = conformance.Builtin()
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink conformance: %v\n", err)
		return exitFindings
	}
	if len(cases) == 0 { // a mistyped folder must not pass CI
		fmt.Fprintf(std.err, "applink conformance: no cases (*.txtar) in %s\n", pos[0])
		return exitFindings
	}
	passed, failed := runCases(ctx, cases, filter, *upd, std, func(c *conformance.Case) *conformance.Result {
		return conformance.Run(ctx, c)
	})
	fmt.Fprintf(std.out, "conformance: %d passed, %d failed\n", passed, failed)
	if failed > 0 || ctx.Err() != nil {
		return exitFindings
	}
	return exitOK
}

// compileRun compiles a --run filter; nil matches every case.
func compileRun(expr, verb string, std stdio) (*regexp.Regexp, int, bool) {
	if expr == "" {
		return nil, 0, true
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		fmt.Fprintf(std.err, "applink %s: --run: %v\n", verb, err)
		return nil, exitUsage, false
	}
	return re, 0, true
}

// runCases runs the cases that match filter, printing "ok   NAME" or
// "FAIL NAME" and, under a failure, its error or diff indented. With update
// it records each case instead of judging it. It stops early when ctx is
// cancelled.
func runCases(ctx context.Context, cases []*conformance.Case, filter *regexp.Regexp, update bool, std stdio,
	run func(*conformance.Case) *conformance.Result) (passed, failed int) {
	defer func() {
		if filter != nil && passed+failed == 0 {
			fmt.Fprintf(std.err, "no case matches --run %q\n", filter)
		}
	}()
	for _, c := range cases {
		if filter != nil && !filter.MatchString(c.Name) {
			continue
		}
		if ctx.Err() != nil {
			fmt.Fprintln(std.err, "interrupted")
			return passed, failed
		}
		res := run(c)
		if update {
			if err := res.WriteUpdate(); err != nil {
				fmt.Fprintf(std.out, "FAIL %s\n%s", c.Name, indent(err.Error()+"\n"))
				failed++
				continue
			}
			fmt.Fprintf(std.out, "upd  %s\n", c.Name)
			passed++
			continue
		}
		if res.Passed() {
			fmt.Fprintf(std.out, "ok   %s\n", c.Name)
			passed++
			continue
		}
		failed++
		fmt.Fprintf(std.out, "FAIL %s\n", c.Name)
		if res.Err != nil {
			fmt.Fprint(std.out, indent(res.Err.Error()+"\n"))
		}
		if res.Diff != "" {
			fmt.Fprint(std.out, indent(res.Diff))
		}
	}
	return passed, failed
}

// indent puts four spaces before each line of s (which ends in a newline).
func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("    ")
			b.WriteString(l)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

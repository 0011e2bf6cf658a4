package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/applink-dev/applink/conformance"
)

// cmdTest runs a spec folder's own fixture tests (DIR/tests/*.txtar, the
// format of specs/README.md): the folder's spec is validated, then run on
// each fixture's data and compared with its expect/ sections.
func cmdTest(ctx context.Context, args []string, std stdio) int {
	c := newCommand("test", "DIR", std)
	upd := c.fs.Bool("update", false, "rewrite each test's expect/ sections with what the spec does now (review the diff)")
	runRE := c.fs.String("run", "", "run only the tests whose name matches this `REGEXP`")
	format := c.withFormat(defaultDiagFormat(), diagFormats, "diagnostics format")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	filter, code, ok := compileRun(*runRE, "test", std)
	if !ok {
		return code
	}
	spec, _, code := loadSpec(dir, *format, std, false)
	if spec == nil {
		return code
	}
	testDir := filepath.Join(dir, "tests")
	cases, err := conformance.ReadDir(testDir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(std.err, "applink test: %s has no tests (add %s/*.txtar; see specs/README.md)\n", dir, testDir)
		cases, err = nil, nil
	}
	if err != nil {
		fmt.Fprintf(std.err, "applink test: %v\n", err)
		return exitFindings
	}
	passed, failed := runCases(ctx, cases, filter, *upd, std, func(c *conformance.Case) *conformance.Result {
		return conformance.RunSpecTest(ctx, spec, c)
	})
	fmt.Fprintf(std.out, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || ctx.Err() != nil {
		return exitFindings
	}
	return exitOK
}

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/applink-dev/applink/engine/workspace"
)

func cmdCheck(ctx context.Context, args []string, std stdio) int {
	c := newCommand("check", "DIR", std)
	format := c.withFormat("text", []string{"text", "json"}, "output format")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	plan, code := compile(dir, *format, std)
	if plan == nil {
		return code
	}
	ws := newWorkspace(plan, workspace.DefaultPaths(dir, "", ""))
	results := ws.Check(ctx)
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if *format == "json" {
		if code := printJSON(std, map[string]any{"spec": dir, "ok": failed == 0, "checks": results}); code != exitOK {
			return code
		}
	} else {
		for _, r := range results {
			for _, l := range r.Lines {
				fmt.Fprintln(std.out, l)
			}
			if !r.OK {
				fmt.Fprintf(std.err, "applink check: %s\n", checkError(r))
			}
		}
	}
	if failed > 0 {
		return exitFindings
	}
	return exitOK
}

// checkError is a failed check's line: what failed, then why, prefixed
// once (a connector's error may already start with "source dc1:").
func checkError(r workspace.CheckResult) string {
	what := r.Kind + " " + r.Name
	if r.Kind == r.Name || r.Kind == "spec" || r.Kind == "state" {
		what = r.Name
	}
	if strings.HasPrefix(r.Error, what+":") {
		return r.Error
	}
	return what + ": " + r.Error
}

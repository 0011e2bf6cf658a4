package main

import (
	"context"
	"fmt"

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
				fmt.Fprintf(std.err, "applink check: %s %s: %s\n", r.Kind, r.Name, r.Error)
			}
		}
	}
	if failed > 0 {
		return exitFindings
	}
	return exitOK
}

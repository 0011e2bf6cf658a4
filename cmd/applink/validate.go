package main

import (
	"context"
	"fmt"
)

func cmdValidate(_ context.Context, args []string, std stdio) int {
	c := newCommand("validate", "DIR", std)
	format := c.withFormat(defaultDiagFormat(), diagFormats, "diagnostics format (github: annotations, the default when CI=true)")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	spec, printed, code := loadSpec(dir, *format, std, true)
	if spec == nil {
		return code
	}
	if *format == "json" {
		if printed == 0 {
			fmt.Fprintln(std.out, "[]") // clean: still one parseable JSON array
		}
		return exitOK
	}
	fmt.Fprintf(std.out, "%s: valid (%d files, %d sources, %d fields)\n", dir, len(spec.Files), len(spec.Sources), len(spec.Fields))
	return exitOK
}

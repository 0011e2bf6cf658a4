package main

import (
	"context"
	"fmt"
)

func cmdValidate(_ context.Context, args []string, std stdio) int {
	fs := newFlags("validate", "validate [--json] [--format text|json|github] DIR", std)
	asJSON := fs.Bool("json", false, "print diagnostics as JSON (same as --format json)")
	format := fs.String("format", defaultDiagFormat(), "diagnostics format: text, json or github (annotations)")
	pos, code, ok := parseFlags(fs, args, std)
	if !ok {
		return code
	}
	dir, ok := oneDir(fs, pos, std)
	if !ok {
		return exitUsage
	}
	if *asJSON {
		*format = "json"
	}
	if !checkFormat(*format, std.err) {
		return exitUsage
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

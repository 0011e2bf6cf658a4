package main

import (
	"context"
	"encoding/json"
	"fmt"

	"runtime"
	"runtime/debug"

	"github.com/applink-dev/applink/engine/state/duckstate"
)

func cmdVersion(ctx context.Context, args []string, std stdio) int {
	c := newCommand("version", "", std)
	format := c.withFormat("text", []string{"text", "json"}, "output format")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintln(std.err, "applink version: takes no arguments")
		c.usageLine(std.err)
		return exitUsage
	}
	v := buildVersion()
	duck, err := duckstate.DuckDBVersion(ctx)
	if err != nil {
		duck = "unknown (" + err.Error() + ")"
	}
	if *format == "json" {
		b, _ := json.MarshalIndent(map[string]string{"version": v.Version, "commit": v.Commit, "go": v.Go, "duckdb": duck}, "", "  ")
		fmt.Fprintln(std.out, string(b))
		return exitOK
	}
	fmt.Fprintf(std.out, "applink %s\ncommit  %s\ngo      %s\nduckdb  %s\n", v.Version, v.Commit, v.Go, duck)
	return exitOK
}

// version is what a build knows of itself.
type version struct {
	Version string // module version: a tag, or (devel) for a local build
	Commit  string // VCS revision, "+dirty" when built from a modified tree
	Go      string
}

// buildVersion reads the build information the Go toolchain embeds.
func buildVersion() version {
	v := version{Version: "(devel)", Commit: "unknown (built without VCS information)", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		v.Commit = rev
		if modified == "true" {
			v.Commit += "+dirty"
		}
	}
	return v
}

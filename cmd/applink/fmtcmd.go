package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/applink-dev/applink/dsl"
	"github.com/aymanbagabas/go-udiff"
)

func cmdFmt(_ context.Context, args []string, std stdio) int {
	c := newCommand("fmt", "DIR", std)
	check := c.fs.Bool("check", false, "change nothing; list the files that are not formatted and exit 1 if any")
	diff := c.fs.Bool("diff", false, "show how each file would change")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	changed, err := dsl.FormatDir(dir)
	if err != nil {
		fmt.Fprintf(std.err, "applink fmt: %v\n", err)
		return exitFindings
	}
	names := make([]string, 0, len(changed))
	for n := range changed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := n
		if !filepath.IsAbs(path) && filepath.Dir(path) == "." {
			path = filepath.Join(dir, n)
		}
		fmt.Fprintln(std.out, path)
		if *diff {
			fmt.Fprint(std.out, udiff.Unified(path, path+" (formatted)", string(changed[n][0]), string(changed[n][1])))
		}
		if !*check {
			if err := writeFileAtomic(path, changed[n][1]); err != nil {
				fmt.Fprintf(std.err, "applink fmt: %v\n", err)
				return exitFindings
			}
		}
	}
	if *check && len(names) > 0 {
		return exitFindings
	}
	return exitOK
}

// writeFileAtomic replaces a file through a temp file and a rename, so a
// crash leaves either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

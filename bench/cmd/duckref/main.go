package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/applink-dev/applink/bench/duckref"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
)

func main() { os.Exit(run()) }

func run() int {
	spec := flag.String("spec", "", "the demo spec `DIR` (for its import window)")
	data := flag.String("data", "", "the snapshot `DIR` (default SPECDIR/data)")
	db := flag.String("db", "", "the DuckDB `FILE` to store the result in (default a temporary file, removed)")
	flag.Parse()
	if *spec == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: duckref --spec SPECDIR [--data DIR] [--db FILE]")
		return 2
	}
	if *data == "" {
		*data = filepath.Join(*spec, "data")
	}
	s, diags := dsl.Load(*spec)
	if diags.HasErrors() {
		fmt.Fprintln(os.Stderr, diags.Error())
		return 1
	}
	plan, err := engine.Compile(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	path := *db
	if path == "" {
		dir, err := os.MkdirTemp("", "duckref-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "ref.duckdb")
	}
	n, err := duckref.Run(context.Background(), *data, path, plan.Window.From)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("imported %d\n", n)
	return 0
}

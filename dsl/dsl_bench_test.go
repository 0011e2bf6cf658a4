package dsl

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse measures decoding, validating and compiling the clean spec
// (two files, three filters, five fields): the cost of every validate run.
func BenchmarkParse(b *testing.B) {
	files := map[string][]byte{}
	paths, _ := filepath.Glob("testdata/clean/*.hcl")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files[filepath.Base(p)] = data
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, diags := Parse("spec", files); diags.HasErrors() {
			b.Fatal(diags)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "specs/s")
}

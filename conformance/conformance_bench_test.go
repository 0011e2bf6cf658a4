package conformance

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkSuite measures a run of the whole built-in suite: what
// `applink conformance` costs in CI. Each case extracts, validates and runs
// through the engine, so the figure is dominated by per-case setup, not by
// rows.
func BenchmarkSuite(b *testing.B) {
	cases, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	rows := 0
	for _, c := range cases {
		rows += sourceRows(c)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, c := range cases {
			if res := Run(ctx, c); !res.Passed() {
				b.Fatalf("%s: %v\n%s", c.Name, res.Err, res.Diff)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(cases))/b.Elapsed().Seconds(), "cases/s")
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}

// sourceRows counts the data rows (headers excluded) of a case's CSV files.
func sourceRows(c *Case) int {
	n := 0
	for _, f := range c.Archive.Files {
		if len(f.Name) > len(dataPrefix) && f.Name[:len(dataPrefix)] == dataPrefix {
			if k := bytes.Count(f.Data, []byte("\n")); k > 0 {
				n += k - 1
			}
		}
	}
	return n
}

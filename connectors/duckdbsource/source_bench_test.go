package duckdbsource

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/connector"
)

// BenchmarkReadCalls streams calls with 50 business-data fields each from
// an imported file: calls/s and business-data rows/s.
func BenchmarkReadCalls(b *testing.B) {
	const calls, fields = 20000, 50
	dir := b.TempDir()
	if _, err := demogen.Generate(dir, demogen.Options{Calls: calls, BDFields: fields}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bench.duckdb")
	if err := Import(context.Background(), dir, path); err != nil {
		b.Fatal(err)
	}
	src, err := OpenFile(context.Background(), path, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	b.ReportAllocs()
	b.ResetTimer()
	n, bd := 0, 0
	for b.Loop() {
		err := src.ReadCalls(context.Background(), connector.CallQuery{Names: connector.NewNames()}, func(r *connector.CallRecord) error {
			n++
			bd += len(r.BD)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(bd)/b.Elapsed().Seconds(), "rows/s")
}

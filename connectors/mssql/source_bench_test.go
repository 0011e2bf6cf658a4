package mssql

import (
	"context"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// BenchmarkRenderCallsBatch is the per-page cost of building the SQL.
func BenchmarkRenderCallsBatch(b *testing.B) {
	base, _ := DefaultQuery(TSQL, QueryCalls, []string{"7", "8"}, []string{"tblStorageCenter01"})
	tenant := int64(3)
	w := callWindow{from: time.Now(), tenant: &tenant, after: &key{t: time.Now(), id: int64(42)}, calls: base}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = callsBatch(TSQL, w, DefaultBatchSize)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkReadCallsEngageDuckDB reads the Engage fixture (public layout,
// three sets) through the DuckDB rendering of the source's plans (pages of
// 1,000 calls with 20 business-data fields): the source's own overhead plus
// DuckDB's execution, not a SQL Server figure.
func BenchmarkReadCallsEngageDuckDB(b *testing.B) {
	opt := demoOptions(5000)
	opt.BDFields = 20
	s := newEngageFixture(b, opt).source(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	n, bd := 0, 0
	for b.Loop() {
		err := s.ReadCalls(context.Background(), connector.CallQuery{Names: connector.NewNames()}, func(r *connector.CallRecord) error {
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

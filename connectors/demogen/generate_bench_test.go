package demogen

import (
	"testing"
)

// BenchmarkGenerate measures writing 100k calls × 50 business-data fields
// (one tenth of the reference workload). rows/s counts calls.csv and
// business_data.csv rows; MB/s the bytes of all three files.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	dir := b.TempDir()
	var rows, bytes int64
	for b.Loop() {
		st, err := Generate(dir, Options{Calls: 100_000, BDFields: 50})
		if err != nil {
			b.Fatal(err)
		}
		rows += int64(st.Calls + st.BDRows)
		bytes += st.Bytes
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
}

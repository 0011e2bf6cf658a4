package preview

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/bench/duckref"
	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
)

// The workload of BenchmarkPreviewVsDuckDB: APPLINK_BENCH_CALLS calls
// (default 100 000) with 50 business-data fields. The reference figures of
// shared/performance.md are for 1 000 000 calls:
//
//	APPLINK_BENCH_CALLS=1000000 go test -run XXX -bench PreviewVsDuckDB -benchtime 1x ./engine/preview
//
// Measured on the shared 2-core machine (2026-11-29, loaded by other jobs):
// preview 52.8 s CPU, 816 MB peak RSS; DuckDB SQL 63.7 s CPU, 4 476 MB peak
// RSS (sql/preview_time 0.73 in wall time under that load).
func benchCalls() int {
	if n, err := strconv.Atoi(os.Getenv("APPLINK_BENCH_CALLS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// benchDirs caches generated workloads across benchmark rounds; TestMain
// removes them.
var (
	benchMu   sync.Mutex
	benchDirs = map[int]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// benchWorkload generates the demo snapshot and spec once per size.
func benchWorkload(b *testing.B, n int) (dataDir string, plan *engine.Plan) {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	dir, ok := benchDirs[n]
	if !ok {
		var err error
		dir, err = os.MkdirTemp("", "applink-preview-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDirs[n] = dir
		opt := demogen.Options{Calls: n, BDFields: 50}
		if _, err := demogen.Generate(filepath.Join(dir, "data"), opt); err != nil {
			b.Fatal(err)
		}
		if err := demogen.WriteSpec(filepath.Join(dir, "spec"), filepath.Join(dir, "data"), opt); err != nil {
			b.Fatal(err)
		}
	}
	spec, diags := dsl.Load(filepath.Join(dir, "spec"))
	if diags.HasErrors() {
		b.Fatalf("demo spec: %s", diags.Error())
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		b.Fatal(err)
	}
	return filepath.Join(dir, "data"), plan
}

// BenchmarkPreviewVsDuckDB runs, side by side in one process, (a) the
// preview of the demo workload through the engine into a DuckDB file and
// (b) DuckDB's best equivalent SQL over the same CSV files (read_csv, the
// rule predicates as WHERE, business data as map(list(name), list(value))
// per call, joined), stored into a DuckDB file too. Peak RSS is VmHWM, reset
// through /proc/self/clear_refs before each part; it is process-wide, so it
// includes the Go runtime and DuckDB alike.
func BenchmarkPreviewVsDuckDB(b *testing.B) {
	n := benchCalls()
	dataDir, plan := benchWorkload(b, n)
	reg := engine.Registry{Sources: []connector.SourceDescriptor{snapshot.Descriptor()}}
	out := b.TempDir()
	ctx := context.Background()
	var previewDur, sqlDur time.Duration
	var previewHWM, sqlHWM int64
	var previewCPU, sqlCPU time.Duration
	var imported, sqlImported int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resetHWM()
		c := cpuTime()
		t := time.Now()
		res, err := Run(ctx, plan, Options{DBPath: filepath.Join(out, "preview.duckdb"), Registry: reg})
		if err != nil {
			b.Fatal(err)
		}
		previewDur += time.Since(t)
		previewCPU += cpuTime() - c
		previewHWM = max(previewHWM, vmHWM())
		imported = res.Summary.Calls.Count(connector.StateImported)

		resetHWM()
		c = cpuTime()
		t = time.Now()
		sqlImported, err = duckref.Run(ctx, dataDir, filepath.Join(out, "sql.duckdb"), plan.Window.From)
		if err != nil {
			b.Fatal(err)
		}
		sqlDur += time.Since(t)
		sqlCPU += cpuTime() - c
		sqlHWM = max(sqlHWM, vmHWM())
	}
	b.StopTimer()
	if sqlImported != imported {
		b.Logf("imported calls: preview %d, SQL %d (the SQL approximates the agent rules)", imported, sqlImported)
	}
	calls := float64(n) * float64(b.N)
	b.ReportMetric(calls/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(calls/previewDur.Seconds(), "preview_calls/s")
	b.ReportMetric(calls/sqlDur.Seconds(), "sql_calls/s")
	b.ReportMetric(sqlDur.Seconds()/previewDur.Seconds(), "sql/preview_time")
	// CPU seconds (user + system, all threads) are steadier than wall time
	// on a shared machine.
	b.ReportMetric(previewCPU.Seconds()/float64(b.N), "preview_cpu_s")
	b.ReportMetric(sqlCPU.Seconds()/float64(b.N), "sql_cpu_s")
	b.ReportMetric(float64(previewHWM)/(1<<20), "preview_peakRSS_MB")
	b.ReportMetric(float64(sqlHWM)/(1<<20), "sql_peakRSS_MB")
}

// resetHWM resets the process's peak RSS (Linux ≥ 4.0) after returning freed
// memory, so the next part's peak is its own.
func resetHWM() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// vmHWM is the process's peak RSS in bytes since the last reset (0 off Linux).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

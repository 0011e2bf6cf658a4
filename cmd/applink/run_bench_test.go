package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
)

// BenchmarkRunEndToEnd generates the reference workload (shared/performance.md:
// calls × 50 business-data fields; APPLINK_BENCH_CALLS, default 100000, the
// reference is 1000000; APPLINK_BENCH_FIELDS, default 50), then runs
// `applink run` on it as a child process, first run (everything new, state
// committed) and an incremental run (nothing new), and reports calls/s, the
// child's CPU seconds (steadier than wall time on a shared machine) and its
// peak RSS. bench/run.sh does the same for several sizes with the DuckDB
// reference beside it.
//
//	APPLINK_BENCH_CALLS=1000000 go test -run XXX -bench RunEndToEnd -benchtime 1x ./cmd/applink
func BenchmarkRunEndToEnd(b *testing.B) {
	calls := 100_000
	if v, err := strconv.Atoi(os.Getenv("APPLINK_BENCH_CALLS")); err == nil && v > 0 {
		calls = v
	}
	fields := 50
	if v, err := strconv.Atoi(os.Getenv("APPLINK_BENCH_FIELDS")); err == nil && v > 0 && v <= 50 {
		fields = v
	}
	bin := applinkBinary(b)
	root := b.TempDir()
	data := filepath.Join(root, "data")
	opt := demogen.Options{Calls: calls, BDFields: fields, Seed: 1}
	if _, err := demogen.Generate(data, opt); err != nil {
		b.Fatal(err)
	}
	var first, second, cpuFirst, cpuSecond time.Duration
	var rssFirst, rssSecond int64
	b.ResetTimer()
	for i := range b.N {
		spec := filepath.Join(root, "spec"+strconv.Itoa(i))
		if err := demogen.WriteSpec(spec, data, opt); err != nil {
			b.Fatal(err)
		}
		d, cpu, rss := runChild(b, bin, spec)
		first += d
		cpuFirst += cpu
		rssFirst = max(rssFirst, rss)
		d, cpu, rss = runChild(b, bin, spec)
		second += d
		cpuSecond += cpu
		rssSecond = max(rssSecond, rss)
	}
	n := float64(b.N * calls)
	b.ReportMetric(n/first.Seconds(), "calls/s-first")
	b.ReportMetric(n/second.Seconds(), "calls/s-incremental")
	b.ReportMetric(cpuFirst.Seconds()/float64(b.N), "cpu-s-first")
	b.ReportMetric(cpuSecond.Seconds()/float64(b.N), "cpu-s-incremental")
	b.ReportMetric(float64(rssFirst)/1024, "MB-peak-rss-first")
	b.ReportMetric(float64(rssSecond)/1024, "MB-peak-rss-incremental")
}

// runChild runs one `applink run` and returns its wall time, CPU time and
// peak RSS (KB).
func runChild(b *testing.B, bin, spec string) (time.Duration, time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(bin, "run", "--quiet", spec)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("run: %v\n%s", err, out)
	}
	d := time.Since(start)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return d, 0, 0
	}
	return d, time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss
}

package keyset

import (
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchRows is APPLINK_BENCH_ROWS (default 2 000 000), the set size of
// BenchmarkSet:
//
//	APPLINK_BENCH_ROWS=10000000 go test -run XXX -bench Set -benchtime 1x ./engine/keyset
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("APPLINK_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 2_000_000
}

// BenchmarkSet builds a set of benchRows pairs (in key order and in any
// order) and looks every key up in a random order, as an incremental run
// over an unchanged source does with the prior index; it reports the build
// and lookup CPU time per pair and how much the process's resident set
// grew (in memory: 16 bytes a pair; spilled: flat).
func BenchmarkSet(b *testing.B) {
	n := benchRows()
	keys := make([]uint64, n)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range keys {
		keys[i] = r.Uint64() &^ 1
	}
	sorted := make([]uint64, n)
	copy(sorted, keys)
	slices.Sort(sorted)
	for _, tc := range []struct {
		name string
		in   []uint64
		mem  int
	}{
		{"file/key-order", sorted, 0},
		{"file/any-order", keys, 0},
		{"in-memory", keys, n + 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			runtime.LockOSThread() // CPU time of this thread: steadier than wall time on a shared machine
			defer runtime.UnlockOSThread()
			var build, look time.Duration
			var grew int64
			for range b.N {
				base := vmRSS()
				t := threadCPU()
				ib := NewBuilder(n, Limits{Mem: tc.mem})
				for _, k := range tc.in {
					ib.Add(k, k)
				}
				x, err := ib.Finish()
				if err != nil {
					b.Fatal(err)
				}
				build += threadCPU() - t
				t = threadCPU()
				for _, k := range keys {
					if _, _, ok := x.Find(k); !ok {
						b.Fatal("key not found")
					}
				}
				look += threadCPU() - t
				grew = max(grew, vmRSS()-base)
				x.Close()
			}
			rows := float64(n * b.N)
			b.ReportMetric(float64(build.Nanoseconds())/rows, "cpu-ns/row-build")
			b.ReportMetric(float64(look.Nanoseconds())/rows, "cpu-ns/lookup")
			b.ReportMetric(float64(grew)/(1<<20), "MB-rss-growth")
		})
	}
}

// threadCPU is the calling thread's user and system CPU time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // RUSAGE_THREAD
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmRSS is the process's resident set in bytes (0 off Linux).
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

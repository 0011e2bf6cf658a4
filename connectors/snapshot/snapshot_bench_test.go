package snapshot

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// benchDirs caches generated snapshots across benchmark rounds; TestMain
// removes them.
var (
	benchMu   sync.Mutex
	benchDirs = map[string]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// benchSnapshot writes calls × fields of the reference workload's shape
// (35 text, 10 number, 5 boolean names; a few quoted values), business data
// in calls order unless shuffled. It returns the folder and the file sizes.
func benchSnapshot(b *testing.B, calls, fields int, shuffled bool) (string, int64) {
	b.Helper()
	key := strconv.Itoa(calls) + "x" + strconv.Itoa(fields) + strconv.FormatBool(shuffled)
	benchMu.Lock()
	defer benchMu.Unlock()
	if d, ok := benchDirs[key]; ok {
		return d, dirSize(d)
	}
	dir, err := os.MkdirTemp("", "snapshot-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs[key] = dir
	rng := rand.New(rand.NewPCG(7, uint64(calls)))
	create := func(name string) (*os.File, *bufio.Writer) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		return f, bufio.NewWriterSize(f, 1<<20)
	}
	af, aw := create(AgentsFile)
	aw.WriteString(strings.Join(agentsHeader, ",") + "\n")
	cf, cw := create(CallsFile)
	cw.WriteString(callsHead)
	bf, bw := create(BDFile)
	bw.WriteString("call_id,name,value\n")
	names := make([]string, fields)
	for i := range names {
		switch {
		case i < 35:
			names[i] = "Text" + strconv.Itoa(i)
		case i < 45:
			names[i] = "Number" + strconv.Itoa(i)
		default:
			names[i] = "Flag" + strconv.Itoa(i)
		}
	}
	var rows [][]byte
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var line []byte
	for i := range calls {
		id := "c-" + strconv.Itoa(10000000+i)
		line = append(line[:0], id...)
		line = append(line, ",12,dc1,a"...)
		line = strconv.AppendInt(line, int64(i%500), 10)
		line = append(line, ',')
		line = start.Add(time.Duration(i)*time.Second).AppendFormat(line, time.RFC3339)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(1000+rng.IntN(600000)), 10)
		line = append(line, ",in,+3247012"...)
		line = strconv.AppendInt(line, int64(rng.IntN(100000)), 10)
		line = append(line, ",1000,true,120,ok,0,media/"...)
		line = append(line, id...)
		line = append(line, ".wav,sales\n"...)
		cw.Write(line)
		for f, name := range names {
			line = append(line[:0], id...)
			line = append(line, ',')
			line = append(line, name...)
			line = append(line, ',')
			switch {
			case f < 35 && f%10 == 9:
				line = append(line, `"Smith, ""Jr"""`...)
			case f < 35:
				line = append(line, "value-"...)
				line = strconv.AppendInt(line, int64(rng.IntN(1e6)), 10)
			case f < 45:
				line = strconv.AppendFloat(line, float64(rng.IntN(1e6))/100, 'f', -1, 64)
			default:
				line = strconv.AppendBool(line, rng.IntN(2) == 0)
			}
			line = append(line, '\n')
			if shuffled {
				rows = append(rows, append([]byte(nil), line...))
			} else {
				bw.Write(line)
			}
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for _, r := range rows {
		bw.Write(r)
	}
	for _, c := range []struct {
		f *os.File
		w *bufio.Writer
	}{{af, aw}, {cf, cw}, {bf, bw}} {
		if err := c.w.Flush(); err != nil {
			b.Fatal(err)
		}
		c.f.Close()
	}
	return dir, dirSize(dir)
}

func dirSize(dir string) int64 {
	var n int64
	for _, f := range []string{CallsFile, BDFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func benchReadCalls(b *testing.B, calls, fields int, shuffled, sequential bool) {
	dir, size := benchSnapshot(b, calls, fields, shuffled)
	readCallsBench(b, dir, size, calls, calls*fields, shuffled, sequential)
}

// readCallsBench reads dir b.N times; wantCalls and wantRows < 0: whatever
// the first round reads, every round the same.
func readCallsBench(b *testing.B, dir string, size int64, wantCalls, wantRows int, shuffled, sequential bool) {
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var nCalls, nRows int
	for i := range b.N {
		if i == 1 && wantCalls < 0 {
			wantCalls, wantRows = nCalls, nRows
		}
		s := New(dir)
		s.Sequential = sequential
		err := s.ReadCalls(context.Background(), connector.CallQuery{Names: connector.NewNames()}, func(r *connector.CallRecord) error {
			nCalls++
			nRows += len(r.BD)
			if r.Err != nil {
				b.Fatalf("%s: %v", r.Pos, r.Err)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if s.sorted != shuffled {
			b.Fatalf("sorted path = %v", s.sorted)
		}
	}
	if wantCalls >= 0 && (nCalls != wantCalls*b.N || nRows != wantRows*b.N) {
		b.Fatalf("%d calls, %d rows, want %d and %d per round", nCalls, nRows, wantCalls, wantRows)
	}
	b.ReportMetric(float64(nCalls)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(nRows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(nCalls), "cpu-ns/call")
	b.ReportMetric(maxRSS(), "peak-RSS-MiB")
}

// BenchmarkReadCalls is the fast path (order check + parallel merge join)
// on 100k calls × 50 fields (5 M business-data rows, ~110 MB).
// SNAPSHOT_BENCH_CALLS=1000000 runs it on the reference workload's size.
func BenchmarkReadCalls(b *testing.B) { benchReadCalls(b, benchCalls(), 50, false, false) }

func benchCalls() int {
	if n, err := strconv.Atoi(os.Getenv("SNAPSHOT_BENCH_CALLS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// BenchmarkReadCallsDir reads the snapshot folder SNAPSHOT_BENCH_DIR (e.g.
// made by `applink demo --calls 1000000 --bd-fields 50`, the reference
// workload); skipped when unset.
func BenchmarkReadCallsDir(b *testing.B) {
	dir := os.Getenv("SNAPSHOT_BENCH_DIR")
	if dir == "" {
		b.Skip("SNAPSHOT_BENCH_DIR is not set")
	}
	readCallsBench(b, dir, dirSize(dir), -1, -1, false, false)
}

// BenchmarkReadCallsSequential is the same with the merge join on one
// goroutine.
func BenchmarkReadCallsSequential(b *testing.B) { benchReadCalls(b, benchCalls(), 50, false, true) }

// BenchmarkReadCallsShuffled is the sort path on 20k calls × 50 fields.
func BenchmarkReadCallsShuffled(b *testing.B) { benchReadCalls(b, 20_000, 50, true, false) }

// BenchmarkCheckOrder is the order check alone on 100k calls × 50 fields
// (or on SNAPSHOT_BENCH_DIR).
func BenchmarkCheckOrder(b *testing.B) {
	calls := benchCalls()
	dir := os.Getenv("SNAPSHOT_BENCH_DIR")
	if dir == "" {
		dir, _ = benchSnapshot(b, calls, 50, false)
	}
	size := dirSize(dir)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		plan, err := New(dir).checkOrder(context.Background())
		if err != nil || !plan.inOrder {
			b.Fatal(plan, err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(size*int64(b.N)), "cpu-ns/byte")
}

// BenchmarkScanner is the CSV scanner alone over business_data.csv.
func BenchmarkScanner(b *testing.B) {
	dir, _ := benchSnapshot(b, 100_000, 50, false)
	path := filepath.Join(dir, BDFile)
	fi, _ := os.Stat(path)
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s := NewScanner(f)
		for {
			_, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		f.Close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/row")
}

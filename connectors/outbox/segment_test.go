package outbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// segRun is one run as the engine hands it to a sink: agents, and per
// ledger row its call when imported. queued marks the imported calls a
// queued run leaves to the workers.
type segRun struct {
	id     string
	agents []connector.OutAgent
	rows   []connector.LedgerRow
	calls  map[string]string // imported call id -> Customer value
}

var segFields = []dsl.Field{{Type: dsl.TypeText, Name: "Customer"}, {Type: dsl.TypeNumber, Name: "Total"}}

func segCall(id, v string) *connector.OutCall {
	return &connector.OutCall{CallID: id, AgentUserID: "u1", StartTime: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), Direction: "in", ANI: "<+1>",
		Media: "m/" + id + ".wav", Values: []connector.Value{{Field: 0, Text: []byte(v)}, {Field: 1, Number: 1.5}}}
}

// single runs r through the cumulative outbox (one process).
func (r segRun) single(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	c := NewCumulative(dir)
	if err := c.Open(ctx, connector.RunInfo{RunID: r.id, Fields: segFields}); err != nil {
		t.Fatal(err)
	}
	r.feed(t, c, nil)
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// feed hands the run to a sink; deliver, when set, takes the imported
// calls instead (a queued run), with their run position.
func (r segRun) feed(t *testing.T, s connector.Sink, deliver func(seq int64, c *connector.OutCall, row connector.LedgerRow)) {
	t.Helper()
	ctx := context.Background()
	agents := map[string]connector.OutAgent{}
	for _, a := range r.agents {
		agents[a.UserID] = a
	}
	for i, row := range r.rows {
		seq := int64(i + 1)
		if a, ok := agents[row.ID]; ok && row.Entity == "agent" {
			if err := s.Agent(ctx, &a); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok := r.calls[row.ID]; ok && row.Entity == "call" {
			if deliver != nil {
				deliver(seq, segCall(row.ID, v), row)
				continue
			}
			if err := s.Call(ctx, segCall(row.ID, v)); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if la, ok := s.(interface {
			LedgerAt(int64, connector.LedgerRow) error
		}); ok {
			err = la.LedgerAt(seq, row)
		} else {
			err = s.Ledger(ctx, row)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Runs whose calls two workers deliver, in any order and some twice (a
// redelivery after a kill), materialize to the files one process's
// cumulative outbox holds after the same runs, byte for byte: also when a
// later run excludes a call an earlier one imported, re-imports one it
// excluded, or changes one. A torn last line (a worker killed mid-write)
// is skipped.
func TestSegmentsMaterializeAsOneProcess(t *testing.T) {
	ann := connector.OutAgent{UserID: "u1", FirstName: "Ann", LastName: "Lee, Jr.", Email: "ann@example.com", AgentIDs: []string{"a2", "a1"}}
	bob := connector.OutAgent{UserID: "u2", FirstName: "Bob", Email: "bob@example.com", AgentIDs: []string{"b1"}}
	imp := func(id string) connector.LedgerRow {
		return connector.LedgerRow{Entity: "call", ID: id, State: connector.StateImported}
	}
	exc := func(id, why string) connector.LedgerRow {
		return connector.LedgerRow{Entity: "call", ID: id, State: connector.StateExcluded, Reason: why}
	}
	runs := []segRun{
		{id: "20261101T000000.000000Z", agents: []connector.OutAgent{ann, bob},
			rows: []connector.LedgerRow{{Entity: "agent", ID: "u1", State: connector.StateImported}, {Entity: "agent", ID: "u2", State: connector.StateImported},
				imp("c1"), exc("c2", "too_short"), imp("c3"), imp("c4"), {Entity: "agent", ID: "u3", State: connector.StateExcluded, Reason: "no_email"}},
			calls: map[string]string{"c1": "A", "c3": "B", "c4": "C \"q\""}},
		{id: "20261102T000000.000000Z", agents: []connector.OutAgent{{UserID: "u2", FirstName: "Bob", Email: "bob@new.example", AgentIDs: []string{"b1"}}},
			rows:  []connector.LedgerRow{{Entity: "agent", ID: "u2", State: connector.StateImported}, exc("c1", "filtered_out"), imp("c2"), imp("c4"), imp("c5")},
			calls: map[string]string{"c2": "D", "c4": "C2", "c5": "E"}},
		{id: "20261103T000000.000000Z", rows: []connector.LedgerRow{imp("c6")}, calls: map[string]string{"c6": "F"}},
	}
	single := filepath.Join(t.TempDir(), "single")
	for _, r := range runs {
		r.single(t, single)
	}

	box := filepath.Join(t.TempDir(), "queued")
	ctx := context.Background()
	w1, err := OpenSegmentWriter(box, "w-a")
	if err != nil {
		t.Fatal(err)
	}
	w2, err := OpenSegmentWriter(box, "w-b")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range runs {
		seg := NewFolder(box).RunSegment(r.id)
		if err := seg.Open(ctx, connector.RunInfo{RunID: r.id, Fields: segFields}); err != nil {
			t.Fatal(err)
		}
		type job struct {
			seq  int64
			call *connector.OutCall
			row  connector.LedgerRow
		}
		var jobs []job
		r.feed(t, seg, func(seq int64, c *connector.OutCall, row connector.LedgerRow) { jobs = append(jobs, job{seq, c, row}) })
		if err := seg.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// Deliver last first, alternating workers, the first one twice.
		for i := len(jobs) - 1; i >= 0; i-- {
			w := w1
			if n++; n%2 == 0 {
				w = w2
			}
			times := 1
			if i == 0 {
				times = 2
			}
			for range times {
				if err := w.Append(r.id, jobs[i].seq, "plan", segFields, jobs[i].call, jobs[i].row); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, w := range []*SegmentWriter{w1, w2} {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A torn record of a killed worker.
	torn := filepath.Join(box, segmentsDir, "w-dead", "000001"+segmentExt)
	os.MkdirAll(filepath.Dir(torn), 0o755)
	os.WriteFile(torn, []byte(`{"run":"20261104T000000.000000Z","seq":1,"entity":"call","id":"c1","sta`), 0o644)

	st, err := Materialize(box)
	if err != nil {
		t.Fatal(err)
	}
	if st.Torn != 1 || st.Calls != 5 {
		t.Errorf("stats %+v, want 1 torn line and 5 calls (c2 c3 c4 c5 c6)", st)
	}
	for _, f := range []string{agentsFile, callsFile, ledgerFile} {
		want, err := os.ReadFile(filepath.Join(single, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(box, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from one process's:\n got:\n%s\nwant:\n%s", f, got, want)
		}
	}
	// Again: the same files (it reads only the segments).
	if _, err := Materialize(box); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(box, callsFile))
	want, _ := os.ReadFile(filepath.Join(single, callsFile))
	if !bytes.Equal(got, want) {
		t.Error("a second materialize changed calls.jsonl")
	}
}

// A run's segment is invisible until its commit, and an aborted run
// leaves nothing; a crashed run's temp file is removed by the next run of
// this host once its process is gone, never while it lives.
func TestRunSegmentCommitAndAbort(t *testing.T) {
	box := t.TempDir()
	ctx := context.Background()
	seg := NewFolder(box).RunSegment("r1")
	if err := seg.Open(ctx, connector.RunInfo{RunID: "r1", Fields: segFields}); err != nil {
		t.Fatal(err)
	}
	seg.Ledger(ctx, connector.LedgerRow{Entity: "call", ID: "c1", State: connector.StateExcluded, Reason: "too_short"})
	if files, _ := segmentFiles(box); len(files) != 0 {
		t.Errorf("uncommitted segment visible: %v", files)
	}
	if err := seg.Abort(); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(box, segmentsDir, runsDir)
	if left, _ := os.ReadDir(runs); len(left) != 0 {
		t.Errorf("abort left %v", left)
	}
	// A dead process's temp (pid 1<<22 is above Linux's default pid_max)
	// and a live one's (this process's parent).
	dead := filepath.Join(runs, ".r0."+hostName()+".4194304.tmp")
	live := filepath.Join(runs, ".r0."+hostName()+"."+strconv.Itoa(os.Getppid())+".tmp")
	other := filepath.Join(runs, ".r0.otherhost.4194304.tmp")
	for _, f := range []string{dead, live, other} {
		os.WriteFile(f, nil, 0o644)
	}
	seg = NewFolder(box).RunSegment("r2")
	if err := seg.Open(ctx, connector.RunInfo{RunID: "r2", Fields: segFields}); err != nil {
		t.Fatal(err)
	}
	if err := seg.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{dead: false, live: true, other: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s exists %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
	if files, _ := segmentFiles(box); len(files) != 1 {
		t.Errorf("committed segments %v", files)
	}
}

package outbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaterializeStats is what Materialize wrote and read.
type MaterializeStats struct {
	Segments int `json:"segments"` // segment files read
	Records  int `json:"records"`  // records read (repeats included)
	Torn     int `json:"torn"`     // torn last lines skipped (a worker killed mid-write)
	Agents   int `json:"agents"`   // rows of agents.csv
	Calls    int `json:"calls"`    // lines of calls.jsonl
	Ledger   int `json:"ledger"`   // rows of ledger.csv
}

// segRecord is one record of a segment file (see segment.go).
type segRecord struct {
	Run    string          `json:"run"`
	Seq    int64           `json:"seq"`
	Entity string          `json:"entity"`
	ID     string          `json:"id"`
	State  string          `json:"state"`
	Reason string          `json:"reason"`
	Agent  *string         `json:"agent"`
	Call   json.RawMessage `json:"call"`
}

func (r *segRecord) before(o *segRecord) bool {
	if r.Run != o.Run {
		return r.Run < o.Run
	}
	return r.Seq < o.Seq
}

// Materialize writes DIR's agents.csv, calls.jsonl and ledger.csv from the
// segments (each file replaced atomically): the files a single-process
// cumulative outbox holds after the same runs. Runs and workers may go on
// writing meanwhile: it reads the records complete when it started.
func Materialize(dir string) (MaterializeStats, error) {
	var st MaterializeStats
	files, err := segmentFiles(dir)
	if err != nil {
		return st, err
	}
	latest := map[string]*segRecord{}
	for _, f := range files {
		st.Segments++
		if err := readSegment(f, &st, func(r *segRecord) {
			k := r.Entity + "\x00" + r.ID
			if old, ok := latest[k]; !ok || !r.before(old) {
				latest[k] = r
			}
		}); err != nil {
			return st, err
		}
	}
	recs := make([]*segRecord, 0, len(latest))
	for _, r := range latest {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *segRecord) int {
		if c := strings.Compare(a.Run, b.Run); c != 0 {
			return c
		}
		if a.Seq != b.Seq {
			if a.Seq < b.Seq {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Entity+"\x00"+a.ID, b.Entity+"\x00"+b.ID)
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("outbox: %w", err)
	}
	write := func(name string, fn func(w *bufio.Writer) error) error {
		if err := replaceFile(filepath.Join(dir, name), fn); err != nil {
			return fmt.Errorf("outbox: materialize %s: %w", name, err)
		}
		return nil
	}
	if err := write(agentsFile, func(w *bufio.Writer) error {
		w.WriteString(agentsHeader)
		for _, r := range recs {
			if r.Entity == "agent" && r.Agent != nil {
				w.WriteString(*r.Agent)
				w.WriteByte('\n')
				st.Agents++
			}
		}
		return nil
	}); err != nil {
		return st, err
	}
	if err := write(callsFile, func(w *bufio.Writer) error {
		for _, r := range recs {
			if r.Entity == "call" && len(r.Call) > 0 {
				w.Write(r.Call)
				w.WriteByte('\n')
				st.Calls++
			}
		}
		return nil
	}); err != nil {
		return st, err
	}
	var line []byte
	err = write(ledgerFile, func(w *bufio.Writer) error {
		w.WriteString(ledgerHeader)
		for _, r := range recs {
			line = appendCSVField(line[:0], r.Entity)
			line = append(line, ',')
			line = appendCSVField(line, r.ID)
			line = append(line, ',')
			line = appendCSVField(line, r.State)
			line = append(line, ',')
			line = appendCSVField(line, r.Reason)
			line = append(line, '\n')
			w.Write(line)
			st.Ledger++
		}
		return nil
	})
	return st, err
}

// HasSegments reports whether the outbox in dir holds segments (its calls
// are delivered by workers).
func HasSegments(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, segmentsDir))
	return err == nil && fi.IsDir()
}

// segmentFiles lists the committed segment files: runs' and workers'
// (temp files, whose names start with a dot, are not).
func segmentFiles(dir string) ([]string, error) {
	root := filepath.Join(dir, segmentsDir)
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), segmentExt) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: segments: %w", err)
	}
	return out, nil
}

func readSegment(path string, st *MaterializeStats, fn func(*segRecord)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				st.Torn++ // written by a process killed mid-write: never settled
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("outbox: %s: %w", path, err)
		}
		r := &segRecord{}
		if err := json.Unmarshal(line, r); err != nil {
			return fmt.Errorf("outbox: %s:%d: %w", path, n, err)
		}
		if r.Call != nil && string(r.Call) == "null" {
			r.Call = nil
		}
		st.Records++
		fn(r)
	}
}

package outbox

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/zeebo/xxh3"
)

// A run's staging folder is an outbox holding what the run sent (the engine
// tees the run into it). These functions read it back for `applink restore`
// and rewrite it for `applink purge --calls`.

// Staged is what ReadStaged hands to its callback, one at a time.
type Staged = connector.StagedRow

// Staging is the outbox format as the engine's store-and-forward area.
type Staging struct{}

var _ connector.StagingArea = Staging{}

// Writer implements connector.StagingArea.
func (Staging) Writer(dir string) connector.Sink { return New(dir) }

// Read implements connector.StagingArea.
func (Staging) Read(dir string, fields []dsl.Field, keep func(string) bool, fn func(connector.StagedRow) error) error {
	return ReadStaged(dir, fields, keep, fn)
}

// RemoveCalls implements connector.StagingArea.
func (Staging) RemoveCalls(dir string, ids map[string]bool) (int, error) {
	return RemoveCalls(dir, ids)
}

type stagedCall struct {
	CallID       string    `json:"call_id"`
	AgentUserID  *string   `json:"agent_user_id"`
	StartTime    time.Time `json:"start_time"`
	DurationMS   int64     `json:"duration_ms"`
	Direction    string    `json:"direction"`
	ANI          string    `json:"ani"`
	DNIS         string    `json:"dnis"`
	Media        *string   `json:"media"`
	BusinessData struct {
		Text    map[string]string  `json:"text"`
		Number  map[string]float64 `json:"number"`
		Boolean map[string]bool    `json:"boolean"`
	} `json:"business_data"`
}

// ReadStaged reads a staging folder: agents, then calls (only those keep
// accepts, when keep is not nil), then the ledger rows of what it read.
// Business-data names are matched to fields by name and type; a staged value
// whose field is no longer in the spec is an error (restore with the spec
// that sent it).
func ReadStaged(dir string, fields []dsl.Field, keep func(callID string) bool, fn func(Staged) error) error {
	byName := map[string]int{}
	for i, f := range fields {
		byName[f.Type+"\x00"+f.Name] = i
	}
	// Agents.
	if err := readCSV(filepath.Join(dir, "agents.csv"), func(rec []string) error {
		if len(rec) != 5 {
			return fmt.Errorf("agents.csv: %d columns, want 5", len(rec))
		}
		a := &connector.OutAgent{UserID: rec[0], FirstName: rec[1], LastName: rec[2], Email: rec[3]}
		if rec[4] != "" {
			a.AgentIDs = strings.Split(rec[4], ";")
		}
		return fn(Staged{Agent: a})
	}); err != nil {
		return err
	}
	// Calls.
	f, err := os.Open(filepath.Join(dir, "calls.jsonl"))
	if err != nil {
		return fmt.Errorf("staged calls: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	kept := map[string]bool{}
	for sc.Scan() {
		line++
		if keep != nil {
			// Skip the calls not asked for without decoding them: a
			// restore or a look-up of a few calls reads a whole run.
			if id, ok := lineCallID(sc.Bytes()); ok && !keep(id) {
				continue
			}
		}
		var sc2 stagedCall
		if err := json.Unmarshal(sc.Bytes(), &sc2); err != nil {
			return fmt.Errorf("calls.jsonl:%d: %w", line, err)
		}
		if keep != nil && !keep(sc2.CallID) {
			continue
		}
		kept[sc2.CallID] = true
		c := &connector.OutCall{CallID: sc2.CallID, StartTime: sc2.StartTime, DurationMS: sc2.DurationMS,
			Direction: sc2.Direction, ANI: sc2.ANI, DNIS: sc2.DNIS}
		if sc2.AgentUserID != nil {
			c.AgentUserID = *sc2.AgentUserID
		}
		if sc2.Media != nil {
			c.Media = *sc2.Media
		}
		add := func(typ, name string, v connector.Value) error {
			i, ok := byName[typ+"\x00"+name]
			if !ok {
				return &connector.UnknownFieldError{Pos: fmt.Sprintf("calls.jsonl:%d", line), Type: typ, Name: name}
			}
			v.Field = i
			c.Values = append(c.Values, v)
			return nil
		}
		for n, v := range sc2.BusinessData.Text {
			if err := add(dsl.TypeText, n, connector.Value{Text: []byte(v)}); err != nil {
				return err
			}
		}
		for n, v := range sc2.BusinessData.Number {
			if err := add(dsl.TypeNumber, n, connector.Value{Number: v}); err != nil {
				return err
			}
		}
		for n, v := range sc2.BusinessData.Boolean {
			if err := add(dsl.TypeBoolean, n, connector.Value{Bool: v}); err != nil {
				return err
			}
		}
		// Plan order, as the engine sends them.
		sortValues(c.Values)
		if err := fn(Staged{Call: c}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("staged calls: %w", err)
	}
	// Ledger rows of what was read.
	return readCSV(filepath.Join(dir, "ledger.csv"), func(rec []string) error {
		if len(rec) != 4 {
			return fmt.Errorf("ledger.csv: %d columns, want 4", len(rec))
		}
		if rec[0] == "call" && keep != nil && !kept[rec[1]] {
			return nil
		}
		return fn(Staged{Ledger: &connector.LedgerRow{Entity: rec[0], ID: rec[1], State: rec[2], Reason: rec[3]}})
	})
}

// lineCallID reads the call_id of a calls.jsonl line as the outbox writes
// it ({"call_id":"…",…}) without decoding the rest; ok is false for any
// other shape (an escaped id, say), which is then decoded in full.
func lineCallID(line []byte) (string, bool) {
	const prefix = `{"call_id":"`
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return "", false
	}
	rest := line[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	return string(rest[:end]), true
}

func sortValues(v []connector.Value) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j].Field < v[j-1].Field; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// readCSV calls fn for each record after the header; a missing file is empty.
func readCSV(path string, fn func([]string) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if first {
			first = false
			continue
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// RemoveCalls rewrites a staging folder without the given calls (their lines
// in calls.jsonl and ledger.csv), atomically per file. It returns how many
// calls it removed.
func RemoveCalls(dir string, ids map[string]bool) (int, error) {
	removed := 0
	c := &Cumulative{calls: map[uint64]struct{}{}}
	for id := range ids {
		c.calls[xxh3.HashString(id)] = struct{}{}
	}
	drop := func(line []byte) (uint64, bool, error) {
		_, d, err := c.jsonKey(line)
		if d {
			removed++
		}
		return 0, d, err
	}
	if err := rewrite(dir, "calls.jsonl", false, drop); err != nil {
		return 0, err
	}
	err := rewrite(dir, "ledger.csv", true, func(line []byte) (uint64, bool, error) {
		f := strings.SplitN(string(line), "\x00", 3)
		return 0, len(f) >= 2 && f[0] == "call" && ids[f[1]], nil
	})
	return removed, err
}

func rewrite(dir, name string, header bool, drop func([]byte) (uint64, bool, error)) error {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// A purge killed while rewriting this file left its temp file.
	old, _ := filepath.Glob(filepath.Join(dir, tempPattern(name)))
	for _, o := range old {
		if err := os.Remove(o); err != nil {
			return err
		}
	}
	return replaceFile(path, func(w *bufio.Writer) error {
		return copyKept(w, path, header, drop)
	})
}

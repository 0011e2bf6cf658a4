package outbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/zeebo/xxh3"
)

// Cumulative is the outbox of a spec across runs: after any number of runs it
// holds each call, agent and ledger row exactly once, as last sent. Each run
// writes a complete run outbox (New) in a folder beside the final files; at
// Commit the final files are rebuilt as "old rows not touched by this run,
// then this run's rows" and atomically replaced one by one.
//
// The merge is idempotent: if a crash stops it between two files, the next
// run (the state was not committed, so it sends the same rows) merges again
// and ends with the same files as one uninterrupted run.
type Cumulative struct {
	dir      string
	stageDir string // when set, the run's files are also kept here (hard links)
	touched  int    // ledger rows this run
	runDir   string
	run      *Sink
	merge    bool                // final files exist: remember what this run touches
	calls    map[uint64]struct{} // xxh3 of call ids with a ledger row in this run
	agents   map[uint64]struct{} // xxh3 of user ids with a ledger row in this run
}

// NewCumulative returns the cumulative outbox in dir.
func NewCumulative(dir string) *Cumulative { return &Cumulative{dir: dir} }

// StageTo keeps a copy of each run's own files (what it sent) in dir, for
// store and forward. The copy is a hard link of the run's files where the
// file system allows it, so the run's output is encoded and written once.
func (c *Cumulative) StageTo(dir string) { c.stageDir = dir }

var _ connector.Sink = (*Cumulative)(nil)

// Open implements connector.Sink.
func (c *Cumulative) Open(ctx context.Context, info connector.RunInfo) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	// Leftovers of runs that died before committing: their run folders
	// and the merged files they had not yet renamed into place. (One
	// process writes an outbox at a time: a run, or one delivery worker.)
	if err := removeLeftovers(c.dir); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	c.runDir = filepath.Join(c.dir, ".run-"+info.RunID)
	c.run = New(c.runDir)
	c.merge = false
	for _, f := range []string{agentsFile, callsFile, ledgerFile} {
		if _, err := os.Stat(filepath.Join(c.dir, f)); err == nil {
			c.merge = true
		}
	}
	c.calls, c.agents = map[uint64]struct{}{}, map[uint64]struct{}{}
	c.touched = 0
	return c.run.Open(ctx, info)
}

// Agent implements connector.Sink.
func (c *Cumulative) Agent(ctx context.Context, a *connector.OutAgent) error {
	return c.run.Agent(ctx, a)
}

// Call implements connector.Sink.
func (c *Cumulative) Call(ctx context.Context, o *connector.OutCall) error {
	return c.run.Call(ctx, o)
}

// Ledger implements connector.Sink. Every row the engine sends (a row that
// changed) replaces the old row of that id, in the ledger and in the calls or
// agents file.
func (c *Cumulative) Ledger(ctx context.Context, r connector.LedgerRow) error {
	c.touched++
	if c.merge {
		if r.Entity == "agent" {
			c.agents[xxh3.HashString(r.ID)] = struct{}{}
		} else {
			c.calls[xxh3.HashString(r.ID)] = struct{}{}
		}
	}
	return c.run.Ledger(ctx, r)
}

// Commit implements connector.Sink.
func (c *Cumulative) Commit(ctx context.Context) error {
	if err := c.run.Commit(ctx); err != nil {
		return err
	}
	if c.stageDir != "" {
		if err := linkFiles(c.runDir, c.stageDir); err != nil {
			return fmt.Errorf("outbox: stage: %w", err)
		}
		killpoint.Hit(killpoint.StagingWritten)
	}
	// Nothing changed (c.touched == 0 over existing files): the final files
	// stay as they are.
	if c.touched > 0 || !c.merge {
		for _, f := range []struct {
			name string
			key  func(line []byte) (uint64, bool, error)
		}{
			{agentsFile, c.csvKey(c.agents, 0)},
			{callsFile, c.jsonKey},
			{ledgerFile, c.ledgerKey},
		} {
			if err := c.mergeFile(f.name, f.key); err != nil {
				return fmt.Errorf("outbox: merge %s: %w", f.name, err)
			}
			killpoint.Hit(killpoint.OutboxFileInPlace)
		}
	}
	err := os.RemoveAll(c.runDir)
	killpoint.Hit(killpoint.OutboxCommitted)
	return err
}

// tempPattern is the name of a file replaceFile writes beside name.
func tempPattern(name string) string { return "." + name + ".new-*" }

// removeLeftovers deletes what runs that died before committing left in an
// outbox folder: their run folders (.run-*) and the merged files replaceFile
// had not renamed into place (.NAME.new-*).
func removeLeftovers(dir string) error {
	patterns := []string{".run-*"}
	for _, name := range []string{agentsFile, callsFile, ledgerFile} {
		patterns = append(patterns, tempPattern(name))
	}
	var errs []error
	for _, p := range patterns {
		old, _ := filepath.Glob(filepath.Join(dir, p))
		for _, o := range old {
			if err := os.RemoveAll(o); err != nil {
				errs = append(errs, fmt.Errorf("remove the leftover of a crashed run: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Abort implements connector.Sink.
func (c *Cumulative) Abort() error {
	if c.run == nil {
		return nil
	}
	err := c.run.Abort()
	return errors.Join(err, os.RemoveAll(c.runDir))
}

// mergeFile writes dir/name as the old file's lines whose key is not
// replaced, then the run's file, through a temp file and a rename.
func (c *Cumulative) mergeFile(name string, replaced func([]byte) (uint64, bool, error)) error {
	final := filepath.Join(c.dir, name)
	fresh := filepath.Join(c.runDir, name)
	// Nothing to keep: the run's file is the whole file, header included.
	// (Also in merge mode: a first run killed between its renames leaves
	// some final files and not others.)
	if _, err := os.Stat(final); errors.Is(err, os.ErrNotExist) {
		if err := renameFile(fresh, final); err != nil {
			return err
		}
		return syncDir(c.dir) // the new name must outlive a power cut: the state commits next
	}
	header := name != callsFile
	return replaceFile(final, func(w *bufio.Writer) error {
		if err := copyKept(w, final, header, replaced); err != nil {
			return err
		}
		return appendFile(w, fresh, header)
	})
}

// replaceFile writes path anew through a temp file beside it, synced, then
// renamed over it (and the folder synced): a crash leaves the old file or
// the new one, never half of one. The new file keeps the old one's mode
// (0644 for a new file). A temp file that a crash leaves behind is removed
// by the next Open (removeLeftovers), not by a deferred function, which a
// crash never runs.
func replaceFile(path string, write func(w *bufio.Writer) error) (err error) {
	dir := filepath.Dir(path)
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, tempPattern(filepath.Base(path)))
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			if rerr := os.Remove(tmp.Name()); rerr != nil && err == nil {
				err = rerr
			}
		}
	}()
	err = tmp.Chmod(mode) // CreateTemp makes 0600
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err == nil {
		err = write(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = fsyncFile(tmp)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	killpoint.Hit(killpoint.OutboxMergeWritten)
	if err := renameFile(tmp.Name(), path); err != nil {
		return err
	}
	renamed = true
	return syncDir(dir)
}

// copyKept copies the old file (header included) minus replaced rows. CSV
// rows may span lines (quoted newlines), so CSV files go through encoding/csv.
func copyKept(w *bufio.Writer, path string, header bool, replaced func([]byte) (uint64, bool, error)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if header {
		r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
		r.FieldsPerRecord = -1
		cw := csv.NewWriter(w)
		first := true
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if !first {
				if _, drop, err := replaced(csvLine(rec)); err != nil {
					return err
				} else if drop {
					continue
				}
			}
			first = false
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if _, drop, err := replaced(line); err != nil {
			return err
		} else if drop {
			continue
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	return sc.Err()
}

// csvLine passes a parsed record to a key function: fields joined by NUL
// (which CSV text fields of ours never hold).
func csvLine(rec []string) []byte {
	var b []byte
	for i, f := range rec {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, f...)
	}
	return b
}

// appendFile appends the run's file, without its header line when header.
func appendFile(w *bufio.Writer, path string, header bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	if header {
		if _, err := br.ReadBytes('\n'); err != nil && err != io.EOF {
			return err
		}
	}
	_, err = io.Copy(w, br)
	return err
}

func (c *Cumulative) csvKey(set map[uint64]struct{}, col int) func([]byte) (uint64, bool, error) {
	return func(line []byte) (uint64, bool, error) {
		f := bytes.Split(line, []byte{0})
		if len(f) <= col {
			return 0, false, nil
		}
		k := xxh3.Hash(f[col])
		_, drop := set[k]
		return k, drop, nil
	}
}

func (c *Cumulative) ledgerKey(line []byte) (uint64, bool, error) {
	f := bytes.Split(line, []byte{0})
	if len(f) < 2 {
		return 0, false, nil
	}
	k := xxh3.Hash(f[1])
	set := c.calls
	if string(f[0]) == "agent" {
		set = c.agents
	}
	_, drop := set[k]
	return k, drop, nil
}

// jsonKey reads the call_id of a calls.jsonl line: the outbox writes it first.
func (c *Cumulative) jsonKey(line []byte) (uint64, bool, error) {
	const prefix = `{"call_id":`
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return 0, false, fmt.Errorf("calls.jsonl: a line does not start with %s", prefix)
	}
	rest := line[len(prefix):]
	end := 1
	for end < len(rest) && rest[end] != '"' {
		if rest[end] == '\\' {
			end++
		}
		end++
	}
	var id string
	if end >= len(rest) {
		return 0, false, fmt.Errorf("calls.jsonl: unterminated call_id")
	}
	if err := json.Unmarshal(rest[:end+1], &id); err != nil {
		return 0, false, fmt.Errorf("calls.jsonl: call_id: %w", err)
	}
	k := xxh3.HashString(id)
	_, drop := c.calls[k]
	return k, drop, nil
}

// linkFiles makes dst hold src's outbox files: hard links, or copies where
// links are not possible (another file system).
func linkFiles(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, name := range []string{agentsFile, callsFile, ledgerFile} {
		from, to := filepath.Join(src, name), filepath.Join(dst, name)
		os.Remove(to)
		if err := os.Link(from, to); err == nil {
			continue
		}
		if err := copyFile(from, to); err != nil {
			return err
		}
	}
	return syncDir(dst)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := fsyncFile(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

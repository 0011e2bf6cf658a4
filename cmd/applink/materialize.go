package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/applink-dev/applink/connectors/outbox"
)

// cmdMaterialize writes an outbox's agents.csv, calls.jsonl and ledger.csv
// (shared/README.md §5) from the segments that queued runs and delivery
// workers write (PostgreSQL state, no sink block).
func cmdMaterialize(ctx context.Context, args []string, std stdio) int {
	c := newCommand("materialize", "DIR", std)
	out := c.fs.String("out", "", "the outbox `OUTDIR` the runs and workers write (default DIR/.applink/outbox)")
	format := c.withFormat("text", []string{"text", "json"}, "output format")
	dir, code, ok := c.oneDir(args)
	if !ok {
		return code
	}
	box := *out
	if box == "" {
		box = filepath.Join(dir, ".applink", "outbox")
	}
	if !outbox.HasSegments(box) {
		fmt.Fprintf(std.err, "applink materialize: %s holds no segments: only runs with PostgreSQL state and delivery workers write them\n", box)
		return exitFindings
	}
	st, err := outbox.Materialize(box)
	if err != nil {
		fmt.Fprintf(std.err, "applink materialize: %v\n", err)
		return exitFindings
	}
	if *format == "json" {
		json.NewEncoder(std.out).Encode(struct {
			Outbox string `json:"outbox"`
			outbox.MaterializeStats
		}{box, st})
		return exitOK
	}
	fmt.Fprintf(std.out, "%s: %d agents, %d calls, %d ledger rows from %d segment files (%d records", box, st.Agents, st.Calls, st.Ledger, st.Segments, st.Records)
	if st.Torn > 0 {
		fmt.Fprintf(std.out, ", %d torn last lines of killed workers skipped", st.Torn)
	}
	fmt.Fprintln(std.out, ")")
	return exitOK
}

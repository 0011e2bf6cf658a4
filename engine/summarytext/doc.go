// Package summarytext renders a run record (engine.RunRecord) for people:
// the summary a run prints, its notes (drift, bad rows, values left out,
// warnings, rows counted by the database) and the verdict line of a run
// that needs attention. The CLI, the TUI and the preview share it; the
// record itself, and the numbers it derives, live in engine.
package summarytext

// Package outbox is the embedded sink: it writes a run's output as files in
// a folder (shared/README.md §5): agents.csv, calls.jsonl (one JSON object
// per imported call) and ledger.csv.
//
// Sink writes one run atomically (temp files renamed at Commit); its JSON is
// encoded by hand, append-style, byte for byte as encoding/json would write
// it, without allocating per call. Cumulative keeps one outbox across runs.
package outbox

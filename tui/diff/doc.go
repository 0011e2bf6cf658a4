// Package diff owns the diff pane: what a run would change against the last
// run's ledger (new, changed, removed, as the preview computed it), with ] and
// [ jumping between changes and a side-by-side view of one row: the ledger's
// verdict against this preview's.
package diff

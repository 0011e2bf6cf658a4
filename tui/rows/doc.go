// Package rows owns the rows pane: a scrollable table of sample rows for a
// stage or a reason (queried from the preview file through a small Store
// interface; the SQL lives in engine/preview), a / filter, and enter to see
// one row in full: its source columns, the rule that excluded it and its
// mapped business data.
package rows

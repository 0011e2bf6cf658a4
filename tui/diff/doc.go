// Package diff owns the diff pane: what a run would change against the last
// run's ledger (new, changed, removed, as the preview computed it). Counts
// come first; rows are a window onto the whole diff, loaded from the preview
// file a page at a time around the cursor, so a diff of any size is browsed
// in constant memory. ] and [ jump to the next or previous change anywhere
// in it (the loaded page first, else the preview file finds it). Enter
// opens the compare view of a call: field by field, what the last run that
// sent it sent (read from that run's staged copy) against what a run would
// send now, starred where they differ, or why no copy remains.
package diff

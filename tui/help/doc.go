// Package help owns the TUI's key bindings and the help pane that lists them.
// Keeping every binding in one table means the help view, the footer and the
// panes that match keys cannot disagree about what a key does.
package help

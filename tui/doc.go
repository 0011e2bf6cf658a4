// Package tui owns `applink tui`: a Bubble Tea program over a plan, its
// preview and a real run. The root model here is thin: it owns the frame
// (header, footer, size), the global keys and quitting, and routes every
// other message to a package per pane — plan, stages, rows, diff, apply and
// help. Engine work runs in tea.Cmds that answer with typed messages; the
// preview's SQL stays in engine/preview and the rules in engine.
package tui

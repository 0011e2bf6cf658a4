// Package apply owns the apply pane: a real run of the plan, only after the
// user types "yes", with a live progress bar and counters, ending on the run
// summary or on the error and the ledger's state. The run itself is a
// function the root is given (cmd wires the real one, tests a fake), so this
// package knows nothing of state files or sinks.
package apply

// Package workspace owns the operations on one spec's working area: its
// state, the sink it sends to (the spec's sink block or the cumulative
// outbox) and its staging area (store and forward). Run executes a plan
// incrementally with a staged copy of what it sends and prunes staging past
// its retention; DryRun shows what a run would send; Restore resends a
// staged run; Purge deletes staged data; PreviousSent reads back what the
// last run that sent a call sent, for the TUI's compare view. The CLI, the
// TUI and `serve` call these; none of them holds the logic.
//
// Like the engine, it never names a concrete connector: sinks and the
// staging format come from the engine.Registry that cmd/applink fills.
package workspace

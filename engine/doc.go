// Package engine owns what happens between a validated spec and a sink:
// Compile turns a dsl.Spec into a Plan (a printable, hashable value), and
// Run executes a Plan against sources and a sink, applying the seed's rules,
// the spec's filters and its field mapping, and giving every source row exactly
// one ledger state with a reason code.
//
// The contract with connectors (Source, Sink, their records, descriptors
// and the ledger's vocabulary) is the small package engine/connector, which
// connectors import instead of the engine; the engine never imports a
// concrete connector: cmd/applink registers their descriptors in a Registry. CheckSources runs the connectors' checks
// at validate time, so a source that cannot be opened is a diagnostic at its
// `path =` before any verb creates state or preview files.
//
// What a run did is one typed, versioned value, RunRecord (record.go): the
// run fills it in, its Accounting is the only computation of where every
// source row went and what needs attention, and recordjson.go is its stored
// form and the one converter from older stored forms (DecodeRunRecord). The
// state stores and returns it; the report, serve, the workspace and the TUI
// read it; engine/summarytext renders it for people.
package engine

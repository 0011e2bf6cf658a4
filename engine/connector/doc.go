// Package connector is the contract between the engine and its connectors,
// apart from the engine so that a connector imports this small package and
// not the engine's rules, plans and runs:
//
//   - sources: Source and SourceFactory, the records they emit (AgentRecord,
//     CallRecord with its BDFields named through Names, ErrBDWithoutCall)
//     and what the engine asks (CallQuery); the optional interfaces
//     MediaResolver, MediaLocator, FilteredCounter; SourceDescriber with
//     SourceMapping for `applink plan`, SourceValidator with PathError for
//     `applink validate`, SourceChecker for `applink check`;
//   - sinks: Sink and SinkFactory, what they receive (RunInfo, OutAgent,
//     OutCall with its Values, LedgerRow) and report (Failure, MediaSent);
//     StagingArea and StagedRow, SelfStager, Labeled, UnknownFieldError,
//     SinkChecker, DeliveryCounter;
//   - one descriptor per connector (SourceDescriptor, SinkDescriptor): its
//     block in the spec language and what the engine calls;
//   - the vocabulary both sides share: the canonical Direction* and Status*
//     values of a call, and the ledger's State* and Reason* codes with
//     StateReason.
//
// The engine's Registry, which names the connectors a command may use,
// stays in the engine: cmd fills it.
package connector

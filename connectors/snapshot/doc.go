// Package snapshot reads an Engage snapshot folder (agents.csv, calls.csv,
// business_data.csv; shared/README.md §4) as an engine.Source.
//
// It owns a byte-level RFC 4180 scanner (Scanner) that agrees with
// encoding/csv record for record but does not allocate per record, and the
// join of business data to calls: a one-pass merge join when
// business_data.csv holds each call's rows together in calls.csv order (an
// order check proves that first), and an external-sort path with bounded
// memory for any other order. Validate (validate.go) is the validate-time
// check of a folder: it exists and holds the three files with their headers.
package snapshot

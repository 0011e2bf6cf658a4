// Package killpoint owns the named failure points at every durable step of
// a run's commit (and, with queued delivery, of a delivery), in the manner
// of etcd's gofail and CockroachDB's testing knobs: a crash test makes the
// process kill itself exactly there instead of hoping a random delay lands
// inside a commit.
//
// The points are inert unless the process was started with
// APPLINK_KILLPOINT=NAME (or NAME:N, the N-th time the point is reached):
// then reaching it SIGKILLs the process. APPLINK_KILLPOINT_TRACE=FILE
// appends one line per point reached to FILE, so a test can tell where a run
// was when it died. Without either variable a point costs one atomic load.
//
// Every point is declared in Points; killpoint_test.go parses the module's
// sources and fails when a call site names a point not declared there, or a
// declared point has no call site, and cmd/applink's crash tests kill a run
// at every declared point. A new durable step therefore gets its kill test
// by getting a point.
package killpoint

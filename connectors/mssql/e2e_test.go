package mssql

import (
	"testing"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/sourcetest"
	"github.com/applink-dev/applink/engine/connector"
)

// compareRuns checks that an engine run over src writes the outbox a run
// over the snapshot of the same data writes, media bytes included; that
// the snapshot's ledger rows src never read (the window and the tenant
// filter pushed into SQL) are exactly those its database counted; and that
// both reports give the same counts, nothing unexplained.
func compareRuns(t *testing.T, dataDir string, opt demogen.Options, src connector.Source) {
	t.Helper()
	sourcetest.CompareRuns(t, dataDir, opt, src, sourcetest.Options{NumericIDs: true, MinCounted: 2})
}

package preview

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/applink-dev/applink/engine/state"
)

// priorLoaded is the state ledger copied into the preview file, for a state
// that cannot be ATTACHed (PostgreSQL): Options.PriorLedger streams it in
// through an appender, the diff reads it like an attached ledger, and the
// table is dropped afterwards.
const priorLoaded = `prior_ledger`

// loadPrior copies a backend's ledger into the preview file's prior_ledger.
func (st *store) loadPrior(ctx context.Context, ledger func(context.Context, func(state.LedgerRow) error) error) error {
	if _, err := st.conn.ExecContext(ctx, `CREATE TABLE prior_ledger (entity VARCHAR, id VARCHAR, state VARCHAR, reason VARCHAR,
		detail VARCHAR, fp UBIGINT, active BOOLEAN, run_id VARCHAR)`); err != nil {
		return fmt.Errorf("preview: load the state ledger: %w", err)
	}
	return st.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("not a driver connection: %T", dc)
		}
		app, err := duckdb.NewAppender(c, "", "", "prior_ledger")
		if err != nil {
			return fmt.Errorf("preview: load the state ledger: %w", err)
		}
		err = ledger(ctx, func(r state.LedgerRow) error {
			return app.AppendRow(r.Entity, r.ID, r.State, r.Reason, r.Detail, r.FP, r.Active, r.RunID)
		})
		if cerr := app.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("preview: load the state ledger: %w", err)
		}
		return nil
	})
}

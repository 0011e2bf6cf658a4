// Package mssql is the connector.Source over a live NICE Engage database on
// SQL Server (driver "mssql"), through github.com/microsoft/go-mssqldb, and
// the `applink check` diagnosis of such a source.
//
// It owns:
//   - the Engage layout the default queries read, as public SQL against
//     Engage shows it (layout.go; MAPPING.md says, column by column, which
//     names are public and which are our assumptions): the interaction
//     catalog and its per-set tables, the storage-center archive with
//     three-part names, storage units; the SQL feeding every canonical
//     column, overridable per column by the spec's `engage { column … }`
//     block and per query by `queries { … }`;
//   - a small dialect-aware builder (T-SQL for SQL Server, DuckDB for tests
//     that execute the same plans against an Engage-shaped DuckDB) that
//     wraps a base query with the window, tenant and keyset predicates,
//     every value a parameter;
//   - keyset pagination on (start_time, call_id) over the interaction sets
//     the window reaches, in pages of batch_size, with bounded, jittered
//     retries of a page that failed (an Always On failover) from the last
//     key emitted, so nothing is emitted twice or skipped;
//   - counting the rows the pushed-down window and tenant leave out
//     (connector.FilteredCounter), so the accounting stays exact;
//   - media files: a recording's unit root joined with its archive path,
//     mapped to a local mount by `media { path_map }`, opened before a call
//     is sent (connector.MediaLocator);
//   - Describe, the mapping `applink plan` prints (connector.SourceDescriber);
//   - DSN handling: env() resolution errors, ApplicationIntent=ReadOnly (which
//     needs a database), and passwords scrubbed from every message;
//   - Check: connect with a short dial timeout; report version and replica
//     role; compare the mapping with INFORMATION_SCHEMA and the catalog
//     (each missing table or column with the nearest names and the spec
//     line); the sets the window reads and their calls; probe every query
//     and spec column; open recent media files; or one classified line
//     (refused, DNS, timeout, login, missing database/table, permission).
//
// Values are converted by connectors/sqlrow, as for the duckdb source.
//
// Multi-data-centre: each `source` block is one site and one Source; the
// engine reads the blocks of a system concurrently and keys its ledger by
// system_id + call_id, so a call replicated to two sites is imported once.
// The Source tags each call with its block's site (Call.Site).
//
// Multi-tenant: one Engage feeding several CXone tenants is one spec per
// tenant, each with `tenant { where = "tenant_id == N" }`; that equality is
// pushed down as `tenant_id = @pN` (and the other tenants' calls counted),
// any other tenant expression is applied by the engine on all rows.
package mssql

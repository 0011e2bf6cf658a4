// Package mssql is the engine.Source over a live NICE Engage database on
// SQL Server (driver "mssql"), through github.com/microsoft/go-mssqldb, and
// the `applink check` diagnosis of such a source.
//
// It owns:
//   - the default queries that map Engage's tables to canonical agents,
//     calls and business data (MAPPING.md: which canonical column comes from
//     which Engage column, which code means which reason, and which names are
//     public and which are guesses a consultant must check), each overridable
//     by a spec's `queries { NAME = <<-SQL … SQL }`;
//   - a small dialect-aware builder (T-SQL for SQL Server, DuckDB for tests
//     that execute the same plans) that wraps a base query with the window,
//     tenant and keyset predicates, every value a parameter;
//   - keyset pagination on (start_time, call_id) in pages of batch_size, with
//     bounded, jittered retries of a page that failed (an Always On failover)
//     from the last key emitted, so nothing is emitted twice or skipped;
//   - DSN handling: env() resolution errors, ApplicationIntent=ReadOnly (which
//     needs a database), and passwords scrubbed from every message;
//   - Check: connect with a short dial timeout and report version, replica
//     role, readable queries, calls per day and latency, or one classified
//     line (refused, DNS, timeout, login, missing database/table, permission).
//
// Push-down: the window (CallQuery.From/After) and a tenant equality
// (CallQuery.TenantEquals) go into WHERE; every other rule is the engine's,
// so the queries never filter by reason.
//
// Multi-data-centre: each `source` block is one site and one Source; the
// engine reads the blocks of a system concurrently and keys its ledger by
// system_id + call_id, so a call replicated to two sites is imported once.
// The Source tags each call with its block's site (Call.Site); it does not
// read a site column from Engage.
//
// Multi-tenant: one Engage feeding several CXone tenants is one spec per
// tenant, each with `tenant { where = "tenant_id == N" }`; that equality is
// pushed down as `tenant_id = @pN`, any other tenant expression is applied by
// the engine on all rows.
package mssql

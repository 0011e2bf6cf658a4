// Package preview owns `applink preview`: a dry run of a plan that touches
// neither the sink nor the state. It runs the plan through the engine with a
// discarding sink, stores every stage's rows in a DuckDB file (default
// SPECDIR/.applink/preview.duckdb), computes the diff against the spec's state
// ledger (attached read-only, never written) and reports counts per stage,
// per reason and per change kind, as text or one JSON object.
//
// Rows reach DuckDB through the Appender on a goroutine of their own, fed by
// the engine's Observe callbacks through a small pool of batches, so the Go
// side stays flat with the number of calls and the engine waits on DuckDB
// only when the pool is full. DuckDB stores; it does not pivot: mapped
// business data is rendered once per imported call as the outbox's JSON.
// Rows are committed in slices of 100 000 calls and DuckDB's buffer pool is
// capped (memory_limit), so an uncommitted preview does not sit in memory.
//
// The file is written beside its final name and renamed into place only when
// complete, so an interrupted preview leaves the previous one intact. OpenDB
// reads a finished file (read-only) for the TUI without running again.
//
// Tables and views of the preview file:
//
//	calls(pos, source, call_id, tenant_id, site, agent_id, start_time, duration_ms,
//	      direction, ani, dnis, archived, audio_packets, status, exception_code,
//	      media_path, skill)                    every observed call, pos = order read (dense: 0 … n−1)
//	results(call_id, state, reason, detail, stage, agent_user_id, fp, change,
//	        prev_state, prev_reason, prev_detail) each call's verdict and diff
//	mapped(call_id, business_data)             imported calls, outbox-style JSON
//	agents(user_id, state, reason, detail, fp, active, is_agent, agent_ids,
//	       first_name, last_name, email, tenant_id, change, prev_state, prev_reason)
//	removed(entity, id, state, reason, detail, run_id)  in the ledger, not in the source
//	bd(call_id, name, value)                   source business data (Options.SampleBD only)
//	summary(json)                              the Result, as Run returned it
//	views: after_rules, after_filters, mapped_calls, rejects, diff
//
// results.stage says where a call stopped: source (a bad row), rules (seed
// rules 1–10), filters (the spec's call filter), mapping (a field with
// on_error = exclude failed) or mapped (imported).
package preview

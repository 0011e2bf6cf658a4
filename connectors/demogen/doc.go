// Package demogen owns the demo data: realistic, deterministic NICE Engage
// snapshot folders (agents.csv, calls.csv, business_data.csv in the format of
// shared/README.md §4) and the demo spec that reads them. `applink demo`,
// the end-to-end benchmark, the conformance suite and connector tests use it.
//
// Same Options (Seed included) give byte-identical files. Randomness is
// math/rand/v2's PCG seeded from Seed, one stream per concern (roster, calls,
// business data), so the roster does not change with the number of calls and
// calls.csv does not change with the number of business-data fields.
//
// What the data holds (rates of Options' defaults; roughly, by random draw,
// unless marked exact):
//
// Users (agents.csv, one row per agent ID; exact counts by shuffle, at least
// one of each from 10 users on):
//   - 5 % non-agents: is_agent=false, empty agent_id (not_agent)
//   - 3 % agents without email (no_email; their calls agent_without_email)
//   - 3 % duplicates: an earlier user's email in other case with surrounding
//     spaces, created later (duplicate_email; their calls agent_unmapped)
//   - 5 % inactive; 1 % with an @test.example email, which the demo spec's
//     agent filter drops (filtered_out; their calls agent_filtered)
//   - 10 % of agents have 2 or 3 agent IDs (same user data on each row)
//   - unicode names (Zoë, José, Łukasz, 王, Nguyễn, …); user IDs from 1001,
//     agent IDs from 20001; created_at rises with user_id over the 3 years
//     before installation.
//
// Calls (calls.csv, sorted by start_time, then call_id; IDs are CallIDPrefix
// and a 7-digit (or wider) sequence: C0000001). The window of the demo spec
// starts at backfill_requested_at − 7 days (never after installed_at); calls
// run from 2 days before it for Days days, following a contact-centre day
// (busy office hours, quiet nights, weekends at 40 %). Each call gets at most
// one drawn defect (those before the window too; exception 20 and 12 calls
// are also short or silent, as in Engage):
//   - 3 % before the window (exact: 30 per mille of Calls) → before_window
//   - 2 % no agent_id → no_agent_info
//   - 3 % archived=false → not_archived
//   - 2 % status=invalid → invalid
//   - 3 % exception_code in 7, 12, 15, 20, 34 (a third with status=error;
//     12 without audio, 20 lasting 1–2 s, others half recorded) → exception
//   - 3 % audio_packets=0 → no_audio
//   - 4 % duration_ms ≤ 2000 (a quarter of them exactly 2000) → too_short
//   - 3 % an agent_id no user has → imported, agent_unmapped
//   - 1 % (plus chance) an agent without email → agent_without_email
//   - independently 10 % direction=internal, which the demo spec's call
//     filter drops (filtered_out); 2 % unknown, the rest in or out
//
// Calls of duplicate, inactive and test agents follow from picking agents
// uniformly. Durations are log-normal around 4 minutes; audio_packets is 50
// a second; media_path is media/YYYY/MM/DD/CALLID.wav when there are packets
// and empty otherwise; ANI/DNIS are E.164 numbers (extensions on internal
// calls); tenants and sites are spread uniformly.
//
// Business data (business_data.csv, grouped per call in calls.csv order):
// the first BDFields names of FieldNames' list, 0.5 % of calls without any
// and 1 % of fields left out. Text values are IDs and picks from lists, some
// needing RFC 4180 quoting (commas, quotes, a newline) and some unicode;
// numbers are decimal strings, 0.5 % invalid ("n/a", "12,50", …) so that
// on_error matters; booleans are true/false.
//
// The demo spec (WriteSpec) maps every field with on_error = "omit", so no
// call is mapping_error; other_tenant needs several TenantIDs (WriteSpec then
// keeps the first tenant).
//
// Speed: rows are appended into a 1 MiB bufio.Writer's free buffer with
// strconv.Append*, no fmt and no allocation per row: 1,000,000 calls × 50
// fields (1.44 GB) take about 5 s of CPU on one core.
package demogen

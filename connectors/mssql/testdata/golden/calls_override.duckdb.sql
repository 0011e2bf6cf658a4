SELECT q."call_id", q."tenant_id", q."agent_id", q."start_time", q."duration_ms", q."direction", q."ani", q."dnis", q."archived", q."audio_packets", q."status", q."exception_code", q."media_path", q."skill"
FROM (
SELECT c.id AS call_id, c.tenant AS tenant_id, c.agent AS agent_id, c.started AS start_time,
  c.ms AS duration_ms, 'in' AS direction, c.ani, c.dnis, 1 AS archived, 100 AS audio_packets,
  'ok' AS status, 0 AS exception_code, c.media AS media_path, c.skill
FROM dbo.vwMyCalls AS c
) AS q
WHERE q."start_time" >= $1
  AND q."tenant_id" = $2
ORDER BY q."start_time", q."call_id"
LIMIT $3
-- arg 1: 2026-10-25 00:00:00 +0000 UTC (time.Time)
-- arg 2: 12 (int64)
-- arg 3: 5000 (int)

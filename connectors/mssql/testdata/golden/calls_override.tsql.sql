SELECT TOP (@p1) q.[call_id], q.[tenant_id], q.[agent_id], q.[start_time], q.[duration_ms], q.[direction], q.[ani], q.[dnis], q.[archived], q.[audio_packets], q.[status], q.[exception_code], q.[media_path], q.[skill]
FROM (
SELECT c.id AS call_id, c.tenant AS tenant_id, c.agent AS agent_id, c.started AS start_time,
  c.ms AS duration_ms, 'in' AS direction, c.ani, c.dnis, 1 AS archived, 100 AS audio_packets,
  'ok' AS status, 0 AS exception_code, c.media AS media_path, c.skill
FROM dbo.vwMyCalls AS c
) AS q
WHERE q.[start_time] >= @p2
  AND q.[tenant_id] = @p3
ORDER BY q.[start_time], q.[call_id]
-- arg 1: 5000 (int)
-- arg 2: 2026-10-25T00:00:00 (civil.DateTime)
-- arg 3: 12 (int64)

SELECT
  COUNT(CASE WHEN (q."tenant_id" IS NULL OR q."tenant_id" <> $1) THEN 1 END) AS "other_tenant",
  COUNT(CASE WHEN NOT (q."tenant_id" IS NULL OR q."tenant_id" <> $1) AND q."start_time" < $2 THEN 1 END) AS "before_window",
  COUNT(CASE WHEN NOT (q."tenant_id" IS NULL OR q."tenant_id" <> $1) AND q."start_time" IS NULL THEN 1 END) AS "no_start_time"
FROM (
SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  i.dtInteractionGMTStartTime AS start_time
FROM "nice_interactions"."dbo"."tblInteraction7" AS i
UNION ALL
SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  i.dtInteractionGMTStartTime AS start_time
FROM "nice_interactions"."dbo"."tblInteraction8" AS i
) AS q
-- arg 1: 12 (int64)
-- arg 2: 2026-10-25 00:00:00 +0000 UTC (time.Time)

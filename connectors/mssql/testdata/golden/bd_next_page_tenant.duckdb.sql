SELECT b."call_id", b."name", b."value"
FROM (
SELECT
  b.iInteractionID AS call_id,
  b.nvcFieldName AS name,
  b.nvcFieldValue AS value
FROM "nice_interactions"."dbo"."tblBusinessData" AS b
) AS b
WHERE b."call_id" IN (SELECT q."call_id"
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
WHERE q."start_time" >= $1
  AND (q."start_time" > $2 OR (q."start_time" = $2 AND q."call_id" > $3))
  AND q."start_time" <= $4
  AND (q."start_time" < $4 OR (q."start_time" = $4 AND q."call_id" <= $5))
  AND q."tenant_id" = $6)
ORDER BY b."call_id", b."name"
-- arg 1: 2026-10-26 09:30:15.25 +0000 UTC (time.Time)
-- arg 2: 2026-10-26 09:30:15.25 +0000 UTC (time.Time)
-- arg 3: 1234567 (int64)
-- arg 4: 2026-10-26 11:00:00 +0000 UTC (time.Time)
-- arg 5: 1239999 (int64)
-- arg 6: 12 (int64)

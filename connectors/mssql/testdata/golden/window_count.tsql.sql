SELECT COUNT_BIG(*) AS [calls]
FROM (
SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  i.dtInteractionGMTStartTime AS start_time
FROM [nice_interactions].[dbo].[tblInteraction7] AS i
UNION ALL
SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  i.dtInteractionGMTStartTime AS start_time
FROM [nice_interactions].[dbo].[tblInteraction8] AS i
) AS q
WHERE q.[start_time] >= @p1
-- arg 1: 2026-10-25T00:00:00 (civil.DateTime)

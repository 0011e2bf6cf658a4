SELECT
  COUNT_BIG(CASE WHEN 1 = 0 THEN 1 END) AS [other_tenant],
  COUNT_BIG(CASE WHEN NOT 1 = 0 AND q.[start_time] < @p1 THEN 1 END) AS [before_window],
  COUNT_BIG(CASE WHEN NOT 1 = 0 AND q.[start_time] IS NULL THEN 1 END) AS [no_start_time]
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
-- arg 1: 2026-10-25T00:00:00 (civil.DateTime)

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

SELECT
  u.iUserID AS user_id,
  a.nvcSwitchAgentId AS agent_id,
  u.nvcFirstName AS first_name,
  u.nvcLastName AS last_name,
  u.vcEmailAddress AS email,
  CASE WHEN u.bitDeleted = 1 THEN 0 ELSE 1 END AS active,
  CASE WHEN a.iAgentId IS NULL THEN 0 ELSE 1 END AS is_agent,
  u.iTenantID AS tenant_id,
  u.dtCreatedGMT AS created_at
FROM "nice_admin"."dbo"."tblUser" AS u
LEFT JOIN "nice_admin"."dbo"."tblAgent" AS a ON a.iUserID = u.iUserID

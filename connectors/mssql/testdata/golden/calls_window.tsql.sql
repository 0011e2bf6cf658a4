SELECT TOP (@p1) q.[call_id], q.[tenant_id], q.[agent_id], q.[start_time], q.[duration_ms], q.[direction], q.[ani], q.[dnis], q.[archived], q.[audio_packets], q.[status], q.[exception_code], q.[media_path], q.[skill]
FROM (
SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  ag.nvcAgentId AS agent_id,
  i.dtInteractionGMTStartTime AS start_time,
  DATEDIFF_BIG(millisecond, i.dtInteractionGMTStartTime, i.dtInteractionGMTStopTime) AS duration_ms,
  CASE i.tiCallDirectionTypeID WHEN 1 THEN 'in' WHEN 2 THEN 'out' WHEN 3 THEN 'internal' ELSE 'unknown' END AS direction,
  ini.nvcPhoneNumber AS ani,
  i.nvcDialedNumber AS dnis,
  CASE WHEN r.vcArchivePath <> '' THEN 1 ELSE 0 END AS archived,
  CASE WHEN na.iExceptionNumber IS NOT NULL THEN 0 WHEN r.vcArchivePath <> '' THEN 1 ELSE 0 END AS audio_packets,
  CASE i.tiInteractionStatusID WHEN 1 THEN 'invalid' WHEN 2 THEN 'error' ELSE 'ok' END AS status,
  ex.iExceptionNumber AS exception_code,
  CASE WHEN r.vcArchivePath <> '' THEN CONCAT(r.nvcUnitPath, '\', r.vcArchivePath) END AS media_path,
  i.nvcSkillName AS skill
FROM [nice_interactions].[dbo].[tblInteraction7] AS i
OUTER APPLY (SELECT TOP (1) p.nvcAgentId FROM [nice_interactions].[dbo].[tblParticipant7] AS p WHERE p.iInteractionID = i.iInteractionID AND p.nvcAgentId <> '' ORDER BY p.iParticipantID) AS ag
OUTER APPLY (SELECT TOP (1) p.nvcPhoneNumber FROM [nice_interactions].[dbo].[tblParticipant7] AS p WHERE p.iInteractionID = i.iInteractionID AND p.bitIsInteractionInitiator = 1 ORDER BY p.iParticipantID) AS ini
OUTER APPLY (SELECT TOP (1) rc.vcArchivePath, un.nvcUnitPath FROM (SELECT iInteractionID, vcArchivePath, dtRecordingGMTStartTime, siUnitID FROM [nice_storage_center].[dbo].[tblStorageCenter01] UNION ALL SELECT iInteractionID, vcArchivePath, dtRecordingGMTStartTime, siUnitID FROM [nice_storage_center].[dbo].[tblStorageCenter02]) AS rc LEFT JOIN [nice_admin].[dbo].[tblScSamUnit] AS un ON un.siUnitID = rc.siUnitID WHERE rc.iInteractionID = i.iInteractionID ORDER BY CASE WHEN rc.vcArchivePath <> '' THEN 0 ELSE 1 END, rc.dtRecordingGMTStartTime) AS r
OUTER APPLY (SELECT TOP (1) e.iExceptionNumber FROM [nice_interactions].[dbo].[tblInteractionException] AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber <> 1702 ORDER BY e.dtExceptionTimeStamp, e.iExceptionID) AS ex
OUTER APPLY (SELECT TOP (1) e.iExceptionNumber FROM [nice_interactions].[dbo].[tblInteractionException] AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber = 1702 ORDER BY e.iExceptionID) AS na
UNION ALL
SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  ag.nvcAgentId AS agent_id,
  i.dtInteractionGMTStartTime AS start_time,
  DATEDIFF_BIG(millisecond, i.dtInteractionGMTStartTime, i.dtInteractionGMTStopTime) AS duration_ms,
  CASE i.tiCallDirectionTypeID WHEN 1 THEN 'in' WHEN 2 THEN 'out' WHEN 3 THEN 'internal' ELSE 'unknown' END AS direction,
  ini.nvcPhoneNumber AS ani,
  i.nvcDialedNumber AS dnis,
  CASE WHEN r.vcArchivePath <> '' THEN 1 ELSE 0 END AS archived,
  CASE WHEN na.iExceptionNumber IS NOT NULL THEN 0 WHEN r.vcArchivePath <> '' THEN 1 ELSE 0 END AS audio_packets,
  CASE i.tiInteractionStatusID WHEN 1 THEN 'invalid' WHEN 2 THEN 'error' ELSE 'ok' END AS status,
  ex.iExceptionNumber AS exception_code,
  CASE WHEN r.vcArchivePath <> '' THEN CONCAT(r.nvcUnitPath, '\', r.vcArchivePath) END AS media_path,
  i.nvcSkillName AS skill
FROM [nice_interactions].[dbo].[tblInteraction8] AS i
OUTER APPLY (SELECT TOP (1) p.nvcAgentId FROM [nice_interactions].[dbo].[tblParticipant8] AS p WHERE p.iInteractionID = i.iInteractionID AND p.nvcAgentId <> '' ORDER BY p.iParticipantID) AS ag
OUTER APPLY (SELECT TOP (1) p.nvcPhoneNumber FROM [nice_interactions].[dbo].[tblParticipant8] AS p WHERE p.iInteractionID = i.iInteractionID AND p.bitIsInteractionInitiator = 1 ORDER BY p.iParticipantID) AS ini
OUTER APPLY (SELECT TOP (1) rc.vcArchivePath, un.nvcUnitPath FROM (SELECT iInteractionID, vcArchivePath, dtRecordingGMTStartTime, siUnitID FROM [nice_storage_center].[dbo].[tblStorageCenter01] UNION ALL SELECT iInteractionID, vcArchivePath, dtRecordingGMTStartTime, siUnitID FROM [nice_storage_center].[dbo].[tblStorageCenter02]) AS rc LEFT JOIN [nice_admin].[dbo].[tblScSamUnit] AS un ON un.siUnitID = rc.siUnitID WHERE rc.iInteractionID = i.iInteractionID ORDER BY CASE WHEN rc.vcArchivePath <> '' THEN 0 ELSE 1 END, rc.dtRecordingGMTStartTime) AS r
OUTER APPLY (SELECT TOP (1) e.iExceptionNumber FROM [nice_interactions].[dbo].[tblInteractionException] AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber <> 1702 ORDER BY e.dtExceptionTimeStamp, e.iExceptionID) AS ex
OUTER APPLY (SELECT TOP (1) e.iExceptionNumber FROM [nice_interactions].[dbo].[tblInteractionException] AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber = 1702 ORDER BY e.iExceptionID) AS na
) AS q
WHERE q.[start_time] >= @p2
ORDER BY q.[start_time], q.[call_id]
-- arg 1: 5000 (int)
-- arg 2: 2026-10-25T00:00:00 (civil.DateTime)

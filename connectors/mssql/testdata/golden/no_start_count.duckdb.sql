SELECT COUNT(*) AS "calls"
FROM (
SELECT
  i.iInteractionID AS call_id,
  i.iTenantID AS tenant_id,
  ag.nvcAgentId AS agent_id,
  i.dtInteractionGMTStartTime AS start_time,
  i.biInteractionDuration AS duration_ms,
  CASE i.tiCallDirectionTypeID WHEN 1 THEN 'in' WHEN 2 THEN 'out' WHEN 3 THEN 'internal' ELSE 'unknown' END AS direction,
  ini.nvcPhoneNumber AS ani,
  i.nvcDialedNumber AS dnis,
  CASE WHEN r.tiVoiceArchiveStatus = 1 THEN 1 ELSE 0 END AS archived,
  CASE WHEN na.iExceptionNumber IS NOT NULL THEN 0 ELSE r.iAudioPackets END AS audio_packets,
  CASE i.tiInteractionStatusID WHEN 1 THEN 'invalid' WHEN 2 THEN 'error' ELSE 'ok' END AS status,
  ex.iExceptionNumber AS exception_code,
  r.vcArchivePath AS media_path,
  i.nvcSkillName AS skill
FROM tblInteraction AS i
LEFT JOIN LATERAL (SELECT p.nvcAgentId FROM tblParticipant AS p WHERE p.iInteractionID = i.iInteractionID AND p.nvcAgentId <> '' ORDER BY p.iParticipantID LIMIT 1) AS ag ON TRUE
LEFT JOIN LATERAL (SELECT p.nvcPhoneNumber FROM tblParticipant AS p WHERE p.iInteractionID = i.iInteractionID AND p.bitIsInteractionInitiator = 1 ORDER BY p.iParticipantID LIMIT 1) AS ini ON TRUE
LEFT JOIN LATERAL (SELECT rc.tiVoiceArchiveStatus, rc.iAudioPackets, rc.vcArchivePath FROM tblRecording AS rc WHERE rc.iInteractionID = i.iInteractionID ORDER BY rc.iRecordingID LIMIT 1) AS r ON TRUE
LEFT JOIN LATERAL (SELECT e.iExceptionNumber FROM tblInteractionException AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber <> 1702 ORDER BY e.dtExceptionTimeStamp, e.iExceptionID LIMIT 1) AS ex ON TRUE
LEFT JOIN LATERAL (SELECT e.iExceptionNumber FROM tblInteractionException AS e WHERE e.iInteractionID = i.iInteractionID AND e.iExceptionNumber = 1702 ORDER BY e.iExceptionID LIMIT 1) AS na ON TRUE
) AS q
WHERE q."start_time" IS NULL

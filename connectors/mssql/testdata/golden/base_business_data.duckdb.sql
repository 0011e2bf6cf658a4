SELECT
  b.iInteractionID AS call_id,
  b.nvcFieldName AS name,
  b.nvcFieldValue AS value
FROM "nice_interactions"."dbo"."tblBusinessData" AS b

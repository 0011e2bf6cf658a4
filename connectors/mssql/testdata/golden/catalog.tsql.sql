SELECT c.vcSetNumber, c.dtMinStartTime, c.dtMaxStartTime
FROM [nice_interactions].[dbo].[tblInteractionCatalog] AS c

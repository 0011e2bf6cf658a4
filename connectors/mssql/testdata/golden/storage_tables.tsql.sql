SELECT TABLE_NAME FROM [nice_storage_center].INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = @p1 AND LOWER(TABLE_NAME) LIKE @p2
-- arg 1: dbo (string)
-- arg 2: tblstoragecenter% (string)

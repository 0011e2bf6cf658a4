SELECT table_name FROM information_schema.tables WHERE table_catalog = $1 AND table_schema = $2 AND LOWER(table_name) LIKE $3
-- arg 1: nice_storage_center (string)
-- arg 2: dbo (string)
-- arg 3: tblstoragecenter% (string)

SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = $1 AND table_schema = $2
-- arg 1: nice_admin (string)
-- arg 2: dbo (string)

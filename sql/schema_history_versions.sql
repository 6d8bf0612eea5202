-- For /readyz: the migration versions applied to this database (refinery's
-- history table), to find the first one this binary knows and the database
-- lacks. A database never migrated has no such table (SQLSTATE 42P01), which
-- the caller reads as "none applied". No parameters.
SELECT version FROM refinery_schema_history

-- A read-only role for analysts on the warehouse database (PostgreSQL): SELECT on every table
-- and view the pipeline creates, now and later, and nothing else. Run it as the owner of the
-- warehouse tables (the role the pipeline connects as), in the warehouse database:
--   psql "$RISK_WAREHOUSE_URL_AS_LIBPQ" -f deploy/analyst_role.sql
-- then give people logins that are members of it:
--   CREATE ROLE ana LOGIN PASSWORD '...' IN ROLE risk_analyst;
-- Idempotent: running it again changes nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'risk_analyst') THEN
        CREATE ROLE risk_analyst NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO risk_analyst', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO risk_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO risk_analyst;
-- Tables and views the pipeline creates later (new releases, the views rebuilt at start-up).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO risk_analyst;
-- Nothing else: no INSERT, UPDATE, DELETE, TRUNCATE, and no CREATE in the schema.
REVOKE CREATE ON SCHEMA public FROM risk_analyst;

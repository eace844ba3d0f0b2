-- The login prometheus-postgres-exporter connects as.  Run once, as a
-- superuser, in the market's database:
--
--   psql -d lagbid -v exporter_password='a long random password' -f contrib/prometheus/exporter.sql
--
-- pg_monitor is PostgreSQL's role for monitoring tools (the exporter's own
-- pg_stat_* metrics need it too); lagbid grants lagbid.metrics() to it, and
-- nothing else: this login can read the market's counts and sums, not its
-- rows, and cannot call any market function.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE lagbid_exporter LOGIN PASSWORD %L', :'exporter_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'lagbid_exporter') \gexec
GRANT pg_monitor TO lagbid_exporter;
-- a scrape never holds the market up
ALTER ROLE lagbid_exporter SET statement_timeout = '10s';

-- ---------------------------------------------------------------------------
-- Backups: the market's rows are data, not extension definition.  Marking
-- the tables (and their identity sequences) makes pg_dump include their
-- contents, so that a dump and restore brings the market back whole.
-- ---------------------------------------------------------------------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['account', 'ledger_tx', 'ledger_entry', 'provider', 'space', 'task',
                             'bid', 'job', 'event', 'notification'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.format('lagbid.%I', t)::regclass, '');
        PERFORM pg_catalog.pg_extension_config_dump(
            pg_catalog.pg_get_serial_sequence(pg_catalog.format('lagbid.%I', t), 'id')::regclass, '');
    END LOOP;
END $$;

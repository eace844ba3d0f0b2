-- pgTAP: the extension is installed and answers.
BEGIN;
SELECT plan(4);
SELECT has_extension('lagbid');
SELECT has_schema('lagbid');
SELECT has_schema('lagbid_api');
SELECT is(lagbid.version(), (SELECT extversion FROM pg_extension WHERE extname = 'lagbid'),
          'library and install script agree on the version');
SELECT * FROM finish();
ROLLBACK;

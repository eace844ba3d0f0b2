-- The workload rules shared with lagbid-agent (issue 19, defects 1 and 9):
-- env names that the dynamic loader or libc read are refused at publish,
-- naming the variable (LD_PRELOAD ran an owner's .so on the provider's
-- host, before any sandbox existed), and base64 is canonical on both sides.
-- The rules are src/rules/workload_rules.c, compiled into the extension
-- and the agent; test/t/023_workload_rules.pl runs one corpus through both.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
SELECT lagbid.deposit('alice', 100000, 'wle-1');

CREATE FUNCTION pg_temp.wl(w text) RETURNS text LANGUAGE sql
    RETURN try(format('SELECT lagbid.publish_task(%L, %L, 1, 2, 1, workload => %L::jsonb) IS NOT NULL',
                      'alice', '{}', w));

SELECT pg_temp.wl('{"command": ["x"], "env": {"LD_PRELOAD": "/var/lib/lagbid-agent/jobs/19/work/x.so"}}');
-- the rule ignores case (glibc does not, but no honest workload needs
-- ld_library_path)
SELECT pg_temp.wl('{"command": ["x"], "env": {"A": "1", "ld_library_path": "/tmp"}}');
SELECT name, pg_temp.wl(format('{"command": ["x"], "env": {%s: "x"}}', to_json(name)))
  FROM unnest(ARRAY['LD_AUDIT', 'LD_BIND_NOW', 'GCONV_PATH', 'LOCPATH', 'MALLOC_ARENA_MAX',
                    'MALLOC_CHECK_', 'HOSTALIASES', 'GLIBC_TUNABLES', 'NLSPATH', 'RES_OPTIONS',
                    'LOCALDOMAIN', 'RESOLV_HOST_CONF', 'NIS_PATH', 'GETCONF_DIR', 'TMPDIR', 'TZDIR',
                    'GMON_OUT_PREFIX',
                    'LANG', 'OLD_LD_X', 'MALLOC']) name;
-- the same rule guards spaces
SELECT try($$SELECT lagbid.create_space('alice', 'evil', '{}', 1, 2, 1,
                                         workload => '{"command": ["x"], "env": {"GCONV_PATH": "/tmp"}}')$$);
-- base64 is canonical (RFC 4648 3.5): "QR==", which PostgreSQL's decode()
-- takes, is refused as the agent refuses it; "QQ==" is the one spelling of "A"
SELECT decode('QR==', 'base64') = decode('QQ==', 'base64') AS decode_takes_both;
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "QR=="}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "QQ=="}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "QUJ="}]}');
-- a timeout is read as a double on both sides: 600.0 is 600
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": 600.0}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": 1e400}');

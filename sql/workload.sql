-- Workloads (issue 13): what a task runs, validated in C (src/workload.c).
-- Every rule of docs/0.3/work.md is tried here, hostile inputs included.
SELECT fresh_market();
SET lagbid.clock = '2030-01-01 00:00:00+00';
-- this session plays PostgREST's login: claims are trusted only from lagbid.authenticators
DO $$ BEGIN PERFORM set_config('lagbid.authenticators', 'authenticator, ' || quote_ident(session_user), false); END $$;
SELECT lagbid.deposit('alice', 100000, 'wl-1');
SELECT cp(1, 'eu') AS p1;

-- wl(w): publish a task with workload w; "ok" or the refusal
CREATE FUNCTION pg_temp.wl(w text) RETURNS text LANGUAGE sql
    RETURN try(format('SELECT lagbid.publish_task(%L, %L, 1, 2, 1, workload => %L::jsonb)',
                      'alice', '{}', w));

-- a workload's body, by the digest a task or space names it with (issue 19)
CREATE FUNCTION pg_temp.body(sha256 text) RETURNS jsonb LANGUAGE sql
    RETURN (SELECT w.body FROM lagbid.workload_body w WHERE w.sha256 = body.sha256);

-- valid workloads, stored as given
SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, workload => '{"command": ["sh", "-c", "echo 6*7 | bc"]}') AS t1;
SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, workload => $${
    "command": ["python3", "main.py", "--n", "3"],
    "env": {"PYTHONHASHSEED": "0", "_x1": "", "LANG": "C.UTF-8"},
    "inputs": [{"path": "main.py", "content_base64": "cHJpbnQoNDIpCg=="},
               {"path": "data/in.bin", "uri": "https://example.org/in.bin",
                "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
               {"path": "empty", "content_base64": ""},
               {"path": "data/.hidden/..x/...", "uri": "file:///srv/x", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}],
    "timeout_s": 86400,
    "output": "out/result.json"}$$) AS t2;
SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, workload => NULL) AS t3;
SELECT pg_temp.wl('{"command": ["true"], "timeout_s": 1, "output": "stdout"}');
SELECT pg_temp.wl('{"command": ["true"], "timeout_s": 600.0}');
SELECT pg_temp.wl(format('{"command": %s}', (SELECT json_agg('a'::text) FROM generate_series(1, 64))));
SELECT pg_temp.wl(format('{"command": [%s]}', to_json(repeat('x', 4096))));
SELECT pg_temp.wl(format('{"command": ["x"], "env": %s}',
                         (SELECT json_object_agg('V' || i, 'v') FROM generate_series(1, 64) i)));
SELECT pg_temp.wl(format('{"command": ["x"], "env": {%s: "v"}}', to_json('A' || repeat('b', 127))));
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": [{"path": %s, "content_base64": "eA=="}]}', to_json(repeat('p', 255))));
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": [{"path": "big", "content_base64": %s}]}',
                         to_json(translate(encode(convert_to(repeat('x', 1048576), 'UTF8'), 'base64'), E'\n', ''))));
SELECT id, pg_temp.body(workload_sha256) AS workload FROM lagbid.task ORDER BY id LIMIT 3;

-- the object
SELECT pg_temp.wl('[]');
SELECT pg_temp.wl('"run"');
SELECT pg_temp.wl('null');
SELECT pg_temp.wl('{}');
SELECT pg_temp.wl('{"command": ["x"], "cmd": ["x"]}');
SELECT pg_temp.wl(format('{"command": ["x"], %s: 1}', to_json(repeat('k', 100))));
SELECT pg_temp.wl('{"command": ["x"], "env": null}');
-- command
SELECT pg_temp.wl('{"command": "ls -l"}');
SELECT pg_temp.wl('{"command": []}');
SELECT pg_temp.wl('{"command": {"0": "ls"}}');
SELECT pg_temp.wl('{"command": ["ls", 1]}');
SELECT pg_temp.wl('{"command": ["ls", null]}');
SELECT pg_temp.wl('{"command": ["ls", ["-l"]]}');
SELECT pg_temp.wl('{"command": [""]}');
SELECT pg_temp.wl(format('{"command": %s}', (SELECT json_agg('a'::text) FROM generate_series(1, 65))));
SELECT pg_temp.wl(format('{"command": ["x", %s]}', to_json(repeat('x', 4097))));
SELECT pg_temp.wl('{"command": ["a\u0000b"]}');
SELECT pg_temp.wl('{"command": ["caf\u00e9", "\ud83d\ude00", "\n"]}');
-- env
SELECT pg_temp.wl('{"command": ["x"], "env": ["A=1"]}');
SELECT pg_temp.wl('{"command": ["x"], "env": {"A": 1}}');
SELECT pg_temp.wl('{"command": ["x"], "env": {"A": null}}');
SELECT pg_temp.wl('{"command": ["x"], "env": {"1A": "v"}}');
SELECT pg_temp.wl('{"command": ["x"], "env": {"A-B": "v"}}');
SELECT pg_temp.wl('{"command": ["x"], "env": {"": "v"}}');
SELECT pg_temp.wl('{"command": ["x"], "env": {"A=B": "v"}}');
SELECT pg_temp.wl('{"command": ["x"], "env": {"\u00c9T\u00c9": "v"}}');
SELECT pg_temp.wl(format('{"command": ["x"], "env": {%s: "v"}}', to_json('A' || repeat('b', 128))));
SELECT pg_temp.wl(format('{"command": ["x"], "env": {"A": %s}}', to_json(repeat('v', 4097))));
SELECT pg_temp.wl(format('{"command": ["x"], "env": %s}',
                         (SELECT json_object_agg('V' || i, 'v') FROM generate_series(1, 65) i)));
-- inputs
SELECT pg_temp.wl('{"command": ["x"], "inputs": {"path": "a", "content_base64": ""}}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": ["a"]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "", "mode": "0755"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "", "uri": "https://x/a"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "https://x/a"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "ok", "content_base64": ""}, {"path": "/etc/passwd", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "../x", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a/../../x", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a/..", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": ".", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a/./b", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a//b", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a/", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a\\b", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a\nb", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a\u007fb", "content_base64": ""}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": 7, "content_base64": ""}]}');
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": [{"path": %s, "content_base64": ""}]}', to_json(repeat('p', 256))));
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": ""}, {"path": "b", "content_base64": ""}, {"path": "a", "content_base64": "eA=="}]}');
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": %s}',
                         (SELECT json_agg(json_build_object('path', 'f' || i, 'content_base64', '')) FROM generate_series(1, 65) i)));
-- content_base64
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "eA="}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "e A=="}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "eA==\n"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "e-_="}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "=AAA"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": "A=AA"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "content_base64": 12}]}');
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": [{"path": "big", "content_base64": %s}]}',
                         to_json(translate(encode(convert_to(repeat('x', 1048577), 'UTF8'), 'base64'), E'\n', ''))));
-- uri and sha256
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "ftp://x/a", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "HTTPS://x/a", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "https://x/a b", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}');
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": [{"path": "a", "uri": %s, "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}',
                         to_json('https://' || repeat('x', 2041))));
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": [{"path": "a", "uri": %s, "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}',
                         to_json('https://' || repeat('x', 2040))));
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "https://x/a", "sha256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "https://x/a", "sha256": "e3b0c4"}]}');
SELECT pg_temp.wl('{"command": ["x"], "inputs": [{"path": "a", "uri": "https://x/a", "sha256": "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}');
-- timeout_s
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": 0}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": -1}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": 86401}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": 1.5}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": 1e300}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": "600"}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": "NaN"}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": "Infinity"}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": true}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": null}');
SELECT pg_temp.wl('{"command": ["x"], "timeout_s": NaN}');
-- output
SELECT pg_temp.wl('{"command": ["x"], "output": "/tmp/out"}');
SELECT pg_temp.wl('{"command": ["x"], "output": "../out"}');
SELECT pg_temp.wl('{"command": ["x"], "output": ""}');
SELECT pg_temp.wl('{"command": ["x"], "output": "STDOUT"}');
SELECT pg_temp.wl('{"command": ["x"], "output": ["stdout"]}');
-- the whole workload: at most 4 MiB (LB007)
SELECT pg_temp.wl(format('{"command": ["x"], "inputs": %s}',
                         (SELECT json_agg(json_build_object('path', 'f' || i,
                                 'content_base64', translate(encode(convert_to(repeat('x', 786432), 'UTF8'), 'base64'), E'\n', '')))
                            FROM generate_series(1, 6) i)));
-- nothing of the refused calls was written
SELECT count(*) AS tasks, sum(bid_count) FROM lagbid.task;

-- spaces: the workload travels into each task the space publishes
SELECT lagbid.create_space('alice', 'app', '{}', 1, 2, 10, workload => '{"command": ["echo", "v1"]}') AS s1;
SELECT try($$SELECT lagbid.create_space('alice', 'bad', '{}', 1, 2, 10, workload => '{"command": ["x"], "output": "/abs"}')$$);
SELECT version, changed, pg_temp.body(workload_sha256) AS workload FROM lagbid.space WHERE id = 1;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT id, space_id, space_version, pg_temp.body(workload_sha256) AS workload FROM lagbid.task WHERE space_id = 1 ORDER BY id;
-- an unrelated change keeps the workload; a new workload republishes
SELECT lagbid.update_space(1, price_min => '1.5');
SELECT version, changed, pg_temp.body(workload_sha256) AS workload FROM lagbid.space WHERE id = 1;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT lagbid.update_space(1, workload => '{"command": ["echo", "v2"]}');
SELECT version, changed, pg_temp.body(workload_sha256) AS workload FROM lagbid.space WHERE id = 1;
SELECT lagbid.tick() ->> 'spaces_published' AS published;
SELECT id, state, space_version, pg_temp.body(workload_sha256) AS workload FROM lagbid.task WHERE space_id = 1 ORDER BY id;
SELECT try($$SELECT lagbid.update_space(1, workload => '{"command": []}')$$);
-- JSON null removes the workload
SELECT lagbid.update_space(1, workload => 'null');
SELECT version, changed, pg_temp.body(workload_sha256) AS workload FROM lagbid.space WHERE id = 1;
SELECT try($$SELECT lagbid.update_space(1)$$);

-- the API carries it too (the owner's publish, the provider's views)
BEGIN;
SET LOCAL ROLE lagbid_owner;
SELECT set_config('request.jwt.claims', '{"role": "lagbid_owner", "sub": "alice"}', true);
SELECT lagbid_api.publish_task('{}', 1, 2, 1, region => 'eu', workload => '{"command": ["echo", "api"]}') AS t_api;
SELECT try($$SELECT lagbid_api.publish_task('{}', 1, 2, 1, workload => '{"command": ["x"], "env": {"1": "x"}}')$$);
SELECT lagbid_api.create_space('api-space', '{}', 1, 2, 10, workload => '{"command": ["echo", "s"]}') AS s_api;
SELECT lagbid_api.update_space(2, workload => '{"command": ["echo", "s2"]}');
COMMIT;
SELECT id, pg_temp.body(workload_sha256) AS workload FROM lagbid.space ORDER BY id;
SELECT json_build_object('role', 'lagbid_provider', 'sub', node(1)) AS p1_claims \gset
BEGIN;
SET LOCAL ROLE lagbid_provider;
SELECT set_config('request.jwt.claims', :'p1_claims', true) IS NOT NULL AS claims_set;
-- discovery carries the size and digest; the body is read by id
SELECT task_id, owner, left(lagbid_api.task_workload(task_id) -> 'command' ->> 0, 20) AS argv0,
       jsonb_array_length(lagbid_api.task_workload(task_id) -> 'command') AS args, workload_bytes
  FROM lagbid_api.open_tasks() ORDER BY task_id;
COMMIT;

-- the winner's bid_won notice carries what it needs to run the job (the
-- workload by digest and size: the body is read with task_workload)
SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 3, bid_limit => 1,
                           workload => '{"command": ["echo", "won"], "timeout_s": 60}') AS t_won \gset
SELECT lagbid.place_bid(:t_won, 1, 1.5);
SELECT payload - 'recipient' - 'bid_id' - 'job_id' - 'task_id' AS bid_won
  FROM lagbid.notification WHERE kind = 'bid_won' ORDER BY id DESC LIMIT 1;
BEGIN;
SET LOCAL ROLE lagbid_provider;
SELECT set_config('request.jwt.claims', :'p1_claims', true) IS NOT NULL AS claims_set;
SELECT task_id, state, lagbid_api.task_workload(task_id) AS workload, workload_bytes,
       workload_sha256 = encode(sha256(convert_to(lagbid_api.task_workload(task_id)::text, 'UTF8')), 'hex') AS digest_ok,
       resources, duration_hours FROM lagbid_api.my_jobs();
COMMIT;
SELECT * FROM lagbid.check_invariants();

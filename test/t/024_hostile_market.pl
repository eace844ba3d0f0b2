# A hostile market (issue 19, defect 10): a database whose lagbid_api
# schema is not lagbid's but functions that return garbage -- NULL and
# non-numeric ids, 19-digit ids by the hundred (the reviewer's stack
# overflow: 130 of them in notifications), repeated rows, thousands of
# rows, megabyte texts, control characters, prices that are not numbers,
# a job whose workload sets LD_PRELOAD -- and pushes that are not what the
# agent expects.  The real agent, built with AddressSanitizer and UBSan
# (agent/lagbid-agent-san, -fno-sanitize-recover), runs against it in both
# API shapes (0.3: workloads in open_tasks/my_jobs; 0.4: size and digest,
# body by lagbid_api.task_workload).  It must stay up, bid only on the one
# clean task, acknowledge only clean notification ids (at most the 100 it
# asked for), refuse to run the LD_PRELOAD job, and exit 0 on SIGTERM with
# no sanitizer report.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd qw(abs_path);
use Time::HiRes qw(usleep time);

my $agent = abs_path('agent/lagbid-agent-san');
plan skip_all => 'agent/lagbid-agent-san not built (no ASan/UBSan in this compiler)' unless $agent && -x $agent;
plan skip_all => 'no bubblewrap' unless -x '/usr/bin/bwrap';

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
$node->start;
my $tmp = $PostgreSQL::Test::Utils::tmp_check;
sub sql { return $node->safe_psql('postgres', shift) }

my $sha_empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

# what the agent did, as the fake market saw it
sql(<<'SQL');
CREATE TABLE bids (task_id bigint, price numeric, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE acks (ids bigint[], at timestamptz DEFAULT clock_timestamp());
CREATE TABLE fails (job_id bigint, reason text);
CREATE SCHEMA lagbid_api;
CREATE FUNCTION lagbid_api.set_bid_limit(int) RETURNS void LANGUAGE sql AS '';
CREATE FUNCTION lagbid_api.place_bid(t bigint, p numeric) RETURNS bigint LANGUAGE sql
    AS 'INSERT INTO bids VALUES (t, p) RETURNING 9223372036854775807';
CREATE FUNCTION lagbid_api.acknowledge(i bigint[]) RETURNS void LANGUAGE sql AS 'INSERT INTO acks VALUES (i)';
CREATE FUNCTION lagbid_api.fail_job(j bigint, r text) RETURNS void LANGUAGE sql AS 'INSERT INTO fails VALUES (j, r)';
CREATE FUNCTION lagbid_api.why_not(bigint) RETURNS TABLE(rule text, detail text) LANGUAGE sql
    AS $$ SELECT repeat('r', 100000), E'line\nbreak' FROM generate_series(1, 50) $$;
CREATE FUNCTION lagbid_api.my_bids() RETURNS TABLE(state text) LANGUAGE sql
    AS $$ SELECT 'open' WHERE false $$;

-- 0.3's shape: text everywhere, so that garbage survives the agent's casts
CREATE FUNCTION lagbid_api.open_tasks(n int) RETURNS TABLE(task_id text, resources text, region text,
    price_min text, price_max text, duration_hours float8, owner text, workload text)
LANGUAGE sql AS $$
    -- the one clean task: any honest agent bids on it
    SELECT '7', '{"cpu": 1}', 'eu', '1', '5', 1::float8, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '7', '{"cpu": 1}', 'eu', '0.01', '0.01', 1, 'alice', '{"command": ["true"]}'  -- repeated id
    UNION ALL SELECT NULL, '{}', 'eu', '1', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT 'abc', '{}', 'eu', '1', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '-3', '{}', 'eu', '1', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '99999999999999999999', '{}', 'eu', '1', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '11', '{}', 'eu', 'NaN', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '12', '{}', 'eu', '1', '1e400', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '13', '{}', 'eu', '5', '1', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '14', '{}', 'eu', '1', '5', 'Infinity', 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '15', '{}', 'eu', '1', '5', 1, repeat('o', 1048576), '{"command": ["true"]}'
    UNION ALL SELECT '16', '{}', E'eu\nLOG:  forged', '1', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '17', repeat('[', 100000), 'eu', '1', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '18', '{"cpu": 1e999}', 'eu', '1', '5', 1, 'alice', '{"command": ["true"]}'
    UNION ALL SELECT '19', '{}', 'eu', '1', '5', 1, NULL, '{"command": ["true"]}'
    UNION ALL SELECT '20', '{}', 'eu', '1', '5', 1, 'alice', '{"command": ["x"], "env": {"LD_PRELOAD": "/tmp/x.so"}}'
    UNION ALL SELECT '21', '{}', 'eu', '1', '5', 1, 'alice', '{"command": ["x"], "inputs": [{"path": "a", "content_base64": "QR=="}]}'
    UNION ALL SELECT '22', '{}', 'eu', '1', '5', 1, 'alice', repeat('[', 3000000)
    UNION ALL SELECT '23', '{}', 'eu', '1', '5', 1, 'alice', 'not json at all'
    UNION ALL SELECT (1000 + g)::text, '{}', 'us', '1', '5', 1, 'alice', NULL FROM generate_series(1, 5000) g
$$;
CREATE FUNCTION lagbid_api.my_jobs() RETURNS TABLE(job_id text, task_id text, workload text, resources text,
    deadline timestamptz, state text)
LANGUAGE sql AS $$
    SELECT '501', '8', '{"command": ["true"], "env": {"LD_PRELOAD": "/tmp/evil.so"}}', '{}', now() + interval '1 hour', 'processing'
    UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, 'processing'
    UNION ALL SELECT 'x', '9', '{}', '{}', now(), 'processing'
    UNION ALL SELECT '502', '-1', '{}', repeat('{', 200000), now(), 'processing'
$$;
CREATE FUNCTION lagbid_api.notifications(b boolean, n int) RETURNS TABLE(id text, kind text, task_id text,
    bid_id text, job_id text, payload text)
LANGUAGE sql AS $$
    -- the reviewer's reproduction: 130 ids of 19 digits
    SELECT (9223372036854775807 - g)::text, 'bid_lost', '9223372036854775807', '9223372036854775807', NULL, '{}'
      FROM generate_series(0, 129) g
    UNION ALL SELECT NULL, 'bid_won', NULL, NULL, NULL, NULL
    UNION ALL SELECT 'abc', E'bid_won\n2030 LOG:  forged', '1', '1', '1', repeat('p', 100000)
    UNION ALL SELECT '5', repeat('k', 100000), E'\x01', '', '', E'\n'
    UNION ALL SELECT '5', 'bid_won', '1', '1', '1', '{}'
    UNION ALL SELECT g::text, 'job_paid', '1', '1', '1', '{}' FROM generate_series(10, 5000) g
$$;
SQL

# the agent's directory, made by hand: there is no lagbid here to init against
my $dir = "$tmp/hostile-agent";
mkdir $dir or die;
system("openssl genpkey -algorithm ed25519 -out $dir/node.key 2>/dev/null") == 0 or die 'openssl';
chmod 0600, "$dir/node.key";
my ($host, $port) = ($node->host, $node->port);
open my $fh, '>', "$dir/lagbid-agent.conf" or die;
print $fh <<"CONF";
[market]
conninfo = host=$host port=$port dbname=postgres
region = eu
max_concurrent = 20
scan_interval_s = 1
[resources]
cpu = 4
memory_gb = 8
storage_gb = 10
[price]
cpu_core_hour = 1
memory_gb_hour = 0
storage_gb_hour = 0
[jobs]
grace_period_s = 1
CONF
close $fh;

my $log = "$tmp/hostile-agent.log";
local $ENV{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=0:exitcode=86';
local $ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1:exitcode=87';
my $h = IPC::Run::start([ $agent, 'run', '--dir', $dir ], '<', \undef, '>', $log, '2>&1', $log);
END { eval { $h->kill_kill(grace => 2) if $h && $h->pumpable; }; }
sub agent_log { open my $f, '<', $log or return ''; local $/; my $s = <$f>; close $f; return $s }
sub wait_log
{
	my ($re, $seconds) = @_;
	my $deadline = time + ($seconds // 30);
	usleep(100_000) until time > $deadline || agent_log() =~ $re;
	return agent_log() =~ $re;
}

# ---- the 0.3 shape ----
ok(wait_log(qr/bid \d+ placed on task 7 /), 'the agent bid on the one clean task');
ok(wait_log(qr/could not|ignored a malformed open_tasks row/), 'it logged the malformed rows');
# pushes: garbage, and one batch naming the clean task again among bad ids
for my $p ('', 'null', '[1]', '{"task_id": "7"}', '{"task_id": -1}', '{"task_id": 1.5}',
	'{"task_ids": {"a": 1}}', ('[' x 3000) . (']' x 3000), '{"task_ids": [' . join(',', 1 .. 1000) . ']}',
	'{"task_id": 7, "price_min": 0.0001, "owner": "x"}')
{
	(my $q = $p) =~ s/'/''/g;
	sql("SELECT pg_notify('lagbid_tasks', '$q')");
}
sql(q{SELECT pg_notify('lagbid', '{"id": 1}')});
ok(wait_log(qr/ignored a lagbid_tasks payload without task ids/), 'a push without task ids is logged and ignored');
ok(wait_log(qr/job 501 of task 8 failed: invalid workload: env "LD_PRELOAD" is refused/, 30), 'the LD_PRELOAD job from my_jobs() was looked at');
usleep(3_000_000);
ok($h->pumpable, 'the agent is still running after the 0.3-shaped garbage');

# ---- the 0.4 shape: size and digest in discovery, the body by id ----
sql(<<"SQL");
DROP FUNCTION lagbid_api.open_tasks(int);
DROP FUNCTION lagbid_api.my_jobs();
CREATE FUNCTION lagbid_api.open_tasks(n int, ids bigint[]) RETURNS TABLE(task_id text, resources text, region text,
    price_min text, price_max text, duration_hours float8, owner text, workload_bytes text, workload_sha256 text)
LANGUAGE sql AS \$\$
    SELECT '31', '{"cpu": 1}', 'eu', '1', '5', 1, 'alice', '21', encode(sha256('{"command": ["true"]}'), 'hex')
    UNION ALL SELECT '32', '{"cpu": 1}', 'eu', '1', '5', 1, 'alice', '21', '$sha_empty'     -- digest lies
    UNION ALL SELECT '33', '{"cpu": 1}', 'eu', '1', '5', 1, 'alice', '5', encode(sha256('{"command": ["true"]}'), 'hex')  -- size lies
    UNION ALL SELECT '34', '{"cpu": 1}', 'eu', '1', '5', 1, 'alice', '999999999', '$sha_empty'  -- over the cap
    UNION ALL SELECT '35', '{"cpu": 1}', 'eu', '1', '5', 1, 'alice', '-1', 'zz'
    UNION ALL SELECT '36', '{"cpu": 1}', 'eu', '1', '5', 1, 'alice', '21', NULL
    UNION ALL SELECT '37', '{"cpu": 1}', 'eu', '1', '5', 1, 'alice', '50', encode(sha256(repeat('[', 50)::bytea), 'hex')
    UNION ALL SELECT (2000 + g)::text, '{}', 'eu', '1', '5', 1, 'alice', NULL, NULL FROM generate_series(1, 3000) g
\$\$;
CREATE FUNCTION lagbid_api.task_workload(t bigint) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
    IF t = 37 THEN RETURN NULL; END IF;   -- NULL although a size was announced
    RETURN '{"command": ["true"]}'::jsonb;
END \$\$;
CREATE FUNCTION lagbid_api.my_jobs() RETURNS TABLE(job_id text, task_id text, workload_bytes text, workload_sha256 text,
    resources text, deadline timestamptz, state text)
LANGUAGE sql AS \$\$
    SELECT '601', '31', '21', '$sha_empty', '{}', now() + interval '1 hour', 'processing'
    UNION ALL SELECT '602', '31', 'abc', 'x', '{}', now(), 'processing'
    UNION ALL SELECT '602', '31', 'abc', 'x', '{}', now(), 'processing'
\$\$;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lagbid-agent';
SQL
# (task 31 was named by the push of ids 1..1000 before it existed: that must not stop this bid)
ok(wait_log(qr/bid \d+ placed on task 31 /, 40), 'after a reconnect, the 0.4 shape: the agent bid on the clean task 31 (a push of its id before it existed did not block it)');
ok(wait_log(qr/task 32 declined \(workload\): the workload read does not have the announced SHA-256/),
	'a body whose digest is not the announced one gets no bid');
ok(wait_log(qr/task 33 declined \(workload\): the workload read is \d+ bytes, the market announced 5/),
	'a body whose size is not the announced one gets no bid');
ok(wait_log(qr/task 34 declined \(workload\): the workload is 999999999 bytes, over max_workload_bytes/),
	'a workload over max_workload_bytes is declined without reading it');
ok(wait_log(qr/job 601 of task 31 not started: the workload read does not have the announced SHA-256/),
	'a won job whose body does not match its digest is not run');
usleep(2_000_000);
ok($h->pumpable, 'the agent is still running after the 0.4-shaped garbage');

# ---- what the fake market saw ----
is(sql('SELECT string_agg(DISTINCT task_id::text, \',\' ORDER BY task_id::text) FROM bids'), '31,7',
	'bids went to the clean tasks only (7 and 31), never to a malformed row or a pushed term');
is(sql('SELECT count(*) FROM bids WHERE task_id = 7'), 1, 'one bid on task 7 despite its repeated rows and pushes');
is(sql('SELECT max(cardinality(ids)) <= 100 FROM acks'), 't', 'each acknowledgement holds at most the 100 notifications asked for');
is(sql(q{SELECT bool_and(i > 0) FROM acks, unnest(ids) i}), 't', 'only clean ids are acknowledged');
# the reviewer's overflow: 130 rows of 19-digit ids (then thousands more);
# the agent reads the 100 it asked for, all 19 digits long, and acknowledges them
is(sql(q{SELECT count(*) FROM acks WHERE cardinality(ids) = 100 AND 9223372036854775807 = ANY (ids)
         AND (SELECT bool_and(length(i::text) = 19) FROM unnest(ids) i)}) > 0 ? 1 : 0, 1,
	'100 ids of 19 digits out of 130 (and thousands more) are acknowledged in one array');
like(sql(q{SELECT reason FROM fails WHERE job_id = 501}), qr/LD_PRELOAD/,
	'the job whose workload sets LD_PRELOAD is failed, naming it, and not run');
is(sql(q{SELECT count(*) FROM fails WHERE job_id NOT IN (501)}), 0, 'no job of a malformed row was failed or started');

kill 'TERM', $h->{KIDS}[0]{PID};
my $ok = eval { $h->finish; 1 };
is($ok && $h->result(0), 0, 'the agent exits 0 on SIGTERM');
my $l = agent_log();
unlike($l, qr/AddressSanitizer|runtime error|LeakSanitizer/, 'no sanitizer report in the log');
unlike($l, qr/\nLOG:  forged/, 'no forged line reached the log');
$node->stop;
done_testing();

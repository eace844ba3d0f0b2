# Workloads across the update to 0.4 (issue 19, defect 6): a 0.3 market
# whose live task and space carry workload bodies in their rows.  Before
# ALTER EXTENSION UPDATE the 0.4 library refuses to republish such a space
# rather than publish its task without the workload; the update stores each
# body once, by digest, fills workload_sha256 and workload_bytes of the
# live rows and the owner's live workload bytes; then discovery carries the
# digest, task_workload returns the very body, and the tick republishes
# the space by digest.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('workload_upgrade');
$node->init;
$node->start;
my $p1 = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
my $wl_task = '{"command": ["sh", "-c", "echo café"], "timeout_s": 60}';
my $wl_space = '{"command": ["serve"], "env": {"PORT": "8080"}}';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lagbid VERSION '0.3';
	CREATE ROLE cp1 LOGIN; GRANT lagbid_provider TO cp1;
	SELECT lagbid.deposit('alice', 1000, 'u-1');
	SELECT lagbid.register_provider('$p1', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', 4);
	SELECT lagbid.bind_login('$p1', 'cp1');
	SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3);
	SELECT lagbid.create_space('alice', 'app', '{}', 1, 2, 100);
	-- what 0.3 stored (this library writes workloads by digest only)
	UPDATE lagbid.task SET workload = '$wl_task' WHERE id = 1;
	UPDATE lagbid.space SET workload = '$wl_space' WHERE id = 1;
});

# before the update: the space is not published without its workload
my $tick = $node->safe_psql('postgres', q{SELECT lagbid.tick() ->> 'spaces_published'});
is($node->safe_psql('postgres', q{SELECT count(*) FROM lagbid.task WHERE space_id = 1}), '0',
	'before the update the tick does not publish the space without its workload');
like($node->safe_psql('postgres', q{SELECT error FROM lagbid.tick_failure WHERE entity = 'space'}),
	qr/keeps its workload as lagbid 0.3 did/, 'it records why');

$node->safe_psql('postgres', 'ALTER EXTENSION lagbid UPDATE');
is($node->safe_psql('postgres', q{
	SELECT string_agg((w.sha256 = encode(sha256(convert_to(w.body::text, 'UTF8')), 'hex')
	                   AND w.bytes = octet_length(w.body::text))::text, ',') || ' ' || count(*)
	  FROM lagbid.workload_body w}), 'true,true 2', 'each body stored once, under the SHA-256 of its text');
is($node->safe_psql('postgres', q{
	SELECT t.workload_bytes || ' ' || (w.body = '} . $wl_task . q{'::jsonb)
	  FROM lagbid.task t JOIN lagbid.workload_body w ON w.sha256 = t.workload_sha256 WHERE t.id = 1}),
	'56 true', "the live task names its body by digest, with its size in bytes");
is($node->safe_psql('postgres', q{
	SELECT s.workload_bytes || ' ' || (w.body = '} . $wl_space . q{'::jsonb)
	  FROM lagbid.space s JOIN lagbid.workload_body w ON w.sha256 = s.workload_sha256 WHERE s.id = 1}),
	'47 true', 'and so does the space');
is($node->safe_psql('postgres', q{SELECT workload_bytes FROM lagbid.owner_load WHERE owner = 'alice'}),
	'103', "the owner's live workload bytes: the task's and the space's");

# discovery and the body by id, through the provider's own login
is($node->safe_psql('postgres', q{SELECT task_id || ' ' || workload_bytes || ' ' || workload_sha256
	                               FROM lagbid_api.open_tasks()}, extra_params => [ '-U', 'cp1' ]),
	'1 56 ' . $node->safe_psql('postgres', 'SELECT workload_sha256 FROM lagbid.task WHERE id = 1'),
	'open_tasks carries the size and the digest');
is($node->safe_psql('postgres', q{SELECT lagbid_api.task_workload(1) = '} . $wl_task . q{'::jsonb},
		extra_params => [ '-U', 'cp1' ]), 't', 'task_workload returns the body');

# the tick now republishes the space by digest
$node->safe_psql('postgres', q{DELETE FROM lagbid.tick_failure; SELECT lagbid.tick()});
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || bool_and(t.workload_sha256 = s.workload_sha256)
	FROM lagbid.task t JOIN lagbid.space s ON s.id = t.space_id}), '1 true',
	'after the update the space is published, naming its digest');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.workload_body'), '2', 'no body was copied');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'the market is consistent');

$node->stop;
done_testing();

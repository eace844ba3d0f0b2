# Backups: pg_dump includes the market's rows (the tables are marked with
# pg_extension_config_dump), and a restore with session_replication_role =
# replica (so lagbid's triggers do not re-judge restored rows) brings back
# the same market: same rows, same balances, invariants hold, and it keeps
# trading.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE market');
$node->safe_psql('market', q{
	CREATE EXTENSION lagbid;
	SELECT lagbid.deposit('alice', 1000, 'd-1');
	SELECT lagbid.register_provider('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', 3);
	SELECT lagbid.register_provider('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}', 3);
	SELECT lagbid.publish_task('alice', '{}', 1, 10, 2, bid_limit => 2, replicas => 2);
	SELECT lagbid.place_bid(1, 1, 4), lagbid.place_bid(1, 2, 5);
	SELECT lagbid.submit_result(1, 's3://a', 'h'), lagbid.submit_result(2, 's3://b', 'h');
	SELECT lagbid.finalize(1);
	SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5);
	SELECT lagbid.place_bid(2, 1, 3);
	SELECT lagbid.create_space('alice', 'app', '{}', 1, 2, 5);
});
my $summary = q{SELECT (SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM lagbid.task) || ' | ' ||
	(SELECT string_agg(name || '=' || balance, ',' ORDER BY id) FROM lagbid.account) || ' | ' ||
	(SELECT count(*) FROM lagbid.event) || ' events'};
my $before = $node->safe_psql('market', $summary);

my $dump = $node->basedir . '/market.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('market'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'),
	'-c', 'SET session_replication_role = replica', '-f', $dump ], 'restore with session_replication_role = replica');

is($node->safe_psql('restored', $summary), $before, 'same tasks, balances and event log');
is($node->safe_psql('restored', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'invariants hold after restore');
# the identity sequences came back too: new rows do not collide
is($node->safe_psql('restored', q{SELECT lagbid.place_bid(2, 2, 4)}), '4', 'the restored market keeps trading with fresh ids');
is($node->safe_psql('restored', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'and stays consistent');

$node->stop;
done_testing();

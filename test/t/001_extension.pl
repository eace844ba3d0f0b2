# lagbid can be created in any database of a cluster, with or without
# pg_cron preloaded, and survives a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ext');
$node->init;
$node->start;

# without pg_cron in shared_preload_libraries
$node->safe_psql('postgres', 'CREATE EXTENSION lagbid');
is($node->safe_psql('postgres', 'SELECT lagbid.version()'),
	$node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'lagbid'"),
	'version without pg_cron');

# with pg_cron preloaded in another database, lagbid still works everywhere
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_cron'\ncron.database_name = 'postgres'\n");
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION lagbid CASCADE');
ok($node->safe_psql('other', 'SELECT lagbid.version()') ne '', 'created in a second database');
ok($node->safe_psql('postgres', 'SELECT lagbid.version()') ne '', 'first database still works after restart');

$node->stop;
done_testing();

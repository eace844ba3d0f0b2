# The minutely hook on a real pg_cron: schedule_tick() registers one job
# (however often it is called), in pg_cron's database or for another one,
# and pg_cron's run of lagbid.tick() really acts on the market.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_cron'\ncron.database_name = 'postgres'\ncron.use_background_workers = on\nmax_worker_processes = 16\n");
$node->start;

# without pg_cron in the database: a clear refusal
$node->safe_psql('postgres', 'CREATE DATABASE market');
$node->safe_psql('market', 'CREATE EXTENSION lagbid');
my ($rc, $out, $err) = $node->psql('market', 'SELECT lagbid.schedule_tick()');
like($err, qr/pg_cron is not installed in database "market"/, 'schedule_tick without pg_cron is refused');

$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron; CREATE EXTENSION lagbid');
my $job1 = $node->safe_psql('postgres', 'SELECT lagbid.schedule_tick()');
my $job2 = $node->safe_psql('postgres', 'SELECT lagbid.schedule_tick()');
is($job1, $job2, 'calling schedule_tick again keeps the same job');
my $other = $node->safe_psql('postgres', q{SELECT lagbid.schedule_tick('market')});
isnt($other, $job1, 'a second database gets its own job');
is($node->safe_psql('postgres', q{SELECT string_agg(jobname || '@' || database || ' ' || schedule || ' ' || command, ', ' ORDER BY jobname) FROM cron.job}),
	'lagbid-tick@postgres * * * * * SELECT lagbid.tick(), lagbid-tick:market@market * * * * * SELECT lagbid.tick()',
	'one job per database, every minute');

# a task whose bidding window passes with no bid: pg_cron's tick fails it
my $np = q{12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA};
$node->safe_psql('market', qq{
	SELECT lagbid.deposit('alice', 100, 'cron-1');
	SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bidding_window => '1 second');
});
my $done = $node->poll_query_until('market',
	q{SELECT state = 'failed' FROM lagbid.task WHERE id = 1}, 't');
# poll_query_until gives up after 180 s; a minutely job runs within 60 s
ok($done, 'the scheduled tick ran in the market database and failed the task');
is($node->safe_psql('market', q{SELECT reason FROM lagbid.task WHERE id = 1}), 'no_bids', 'for want of bids');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM cron.job_run_details WHERE command = 'SELECT lagbid.tick()' AND status = 'succeeded' AND database = 'market'}),
	'cron.job_run_details records a successful run');
is($node->safe_psql('market', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'invariants hold');

$node->stop;
done_testing();

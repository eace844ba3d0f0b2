# Crash safety: every bid that place_bid acknowledged to a client survives
# a crash of the server, and the market is consistent after recovery.
#
# Several psql clients place bids as fast as they can; each prints the id
# of every bid it got back (psql prints a result only once the server has
# committed it and said so).  Mid-load the server is
#   1. stopped in immediate mode (every process dies, crash recovery at start)
#   2. hit by SIGKILL on one backend (the postmaster kills all backends and
#      reinitializes: restart_after_crash)
# and after each: every acknowledged bid is present (same task, provider,
# still open), check_invariants() is empty, and the market takes new bids.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $clients   = 4;
my $providers = 160;     # provider ids 1..160 (one registration each, no gaps)
my $tasks     = 80;      # per phase: 12800 bids planned

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# the test library turns restart_after_crash off; the SIGKILL phase needs it
$node->append_conf('postgresql.conf',
	"restart_after_crash = on\nmax_connections = 30\nlog_min_messages = warning\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION lagbid;
CREATE FUNCTION node(n int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lagbid.peer_id_from_ed25519(sha256(n::text::bytea));
SELECT lagbid.deposit('alice', 1000000000, 'seed');
});
$node->safe_psql('postgres', qq{
SELECT count(lagbid.register_provider(node(n), ARRAY['/ip4/10.1.' || n || '.1/tcp/4001'],
                                      'eu-west', '{"cpu": 8}', 100000))
  FROM generate_series(1, $providers) n;
});
is($node->safe_psql('postgres', 'SELECT max(id) FROM lagbid.provider'), $providers, 'providers registered');

# publish the tasks of one phase; returns their ids
sub publish
{
	my $ids = $node->safe_psql('postgres', qq{
		SELECT string_agg(lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1,
		                  bid_limit => 10000, bidding_window => '1 day')::text, ' ')
		  FROM generate_series(1, $tasks)});
	return split / /, $ids;
}

# start the bidders on these tasks: client c bids with the providers p
# where p % clients = c, on every task, in a shuffled order
sub start_bidders
{
	my ($phase, @task_ids) = @_;
	my @h;
	for my $c (0 .. $clients - 1)
	{
		my @pairs;
		for my $p (grep { $_ % $clients == $c } 1 .. $providers)
		{
			push @pairs, map { [ $_, $p ] } @task_ids;
		}
		# Fisher-Yates
		for (my $i = $#pairs; $i > 0; $i--)
		{
			my $j = int(rand($i + 1));
			@pairs[ $i, $j ] = @pairs[ $j, $i ];
		}
		my $script = "${PostgreSQL::Test::Utils::tmp_check}/bids_${phase}_$c.sql";
		open my $fh, '>', $script or die "$script: $!";
		printf $fh "SELECT 'ack', %d, %d, lagbid.place_bid(%d, %d, 1.5);\n", $_->[0], $_->[1],
		  $_->[0], $_->[1]
		  for @pairs;
		close $fh;
		my $out = "${PostgreSQL::Test::Utils::tmp_check}/acks_${phase}_$c.txt";
		my $err = "${PostgreSQL::Test::Utils::tmp_check}/errs_${phase}_$c.txt";
		push @h, {
			out     => $out,
			planned => scalar @pairs,
			h       => IPC::Run::start(
				[
					$node->installed_command('psql'), '-X', '-q', '-A', '-t',
					'-v', 'ON_ERROR_STOP=0',
					'-d', $node->connstr('postgres') . ' application_name=bidder',
					'-f', $script
				],
				'<', \undef, '>', $out, '2>', $err,
				IPC::Run::timeout(180)),
		};
	}
	return @h;
}

# wait for the bidders to end (they lose their connection in the crash);
# returns the acknowledged bids [bid, task, provider] and how many were planned
sub acknowledged
{
	my @h = @_;
	my (@acks, $planned);
	for my $b (@h)
	{
		$b->{h}->finish;    # psql exits once its connection is gone
		$planned += $b->{planned};
		open my $fh, '<', $b->{out} or die "$b->{out}: $!";
		while (<$fh>)
		{
			chomp;
			next unless /^ack\|(\d+)\|(\d+)\|(\d+)$/;
			push @acks, [ $3, $1, $2 ];
		}
		close $fh;
	}
	return (\@acks, $planned);
}

# the checks after a crash
sub check_after_crash
{
	my ($phase, $acks, $planned, $task_ids) = @_;

	cmp_ok(scalar @$acks, '>', 0, "$phase: some bids were acknowledged before the crash");
	cmp_ok(scalar @$acks, '<', $planned, "$phase: the crash came mid-load");

	my $values = join ',', map { "($_->[0],$_->[1],$_->[2])" } @$acks;
	my $lost = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM (VALUES $values) a(id, task_id, provider_id)
		 WHERE NOT EXISTS (SELECT 1 FROM lagbid.bid b
		                    WHERE b.id = a.id AND b.task_id = a.task_id
		                      AND b.provider_id = a.provider_id AND b.state = 'open')});
	is($lost, 0, "$phase: every acknowledged bid is present (" . scalar(@$acks) . " acknowledged)");

	my $on_tasks = $node->safe_psql('postgres',
		'SELECT count(*) FROM lagbid.bid WHERE task_id IN (' . join(',', @$task_ids) . ')');
	cmp_ok($on_tasks, '>=', scalar @$acks, "$phase: no fewer bids than acknowledged ($on_tasks committed)");

	is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'),
		0, "$phase: invariants hold after recovery");
	diag($node->safe_psql('postgres',
		"SELECT string_agg(invariant || ': ' || detail, E'\\n') FROM lagbid.check_invariants()"))
	  if $node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()') ne '0';

	# the market still works: a new provider's bid is accepted
	my $t = $task_ids->[0];
	is($node->safe_psql('postgres', qq{
		SELECT lagbid.place_bid($t, lagbid.register_provider(node(100000 + $t), '{/ip4/10.9.9.9/tcp/1}',
		                        'eu', '{"cpu": 8}'), 1.2) > 0}),
		't', "$phase: a new bid is accepted after recovery");
}

sub wait_for_load
{
	my ($phase, @task_ids) = @_;
	my $list = join ',', @task_ids;
	ok($node->poll_query_until('postgres',
			"SELECT count(*) >= 200 FROM lagbid.bid WHERE task_id IN ($list)"),
		"$phase: load is running");
}

# ---- 1. immediate shutdown mid-load ----
my @t1 = publish();
my @b1 = start_bidders('immediate', @t1);
wait_for_load('immediate stop', @t1);
$node->stop('immediate');
my ($acks1, $planned1) = acknowledged(@b1);
$node->start;
check_after_crash('immediate stop', $acks1, $planned1, \@t1);

# ---- 2. SIGKILL of one backend mid-load ----
my @t2 = publish();
my $log_offset = -s $node->logfile;
my @b2 = start_bidders('sigkill', @t2);
wait_for_load('backend SIGKILL', @t2);
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE application_name = 'bidder' AND state IS NOT NULL ORDER BY random() LIMIT 1");
like($pid, qr/^\d+$/, 'found a bidding backend');
ok(kill('KILL', $pid), "sent SIGKILL to backend $pid");
my ($acks2, $planned2) = acknowledged(@b2);
ok($node->poll_query_until('postgres', 'SELECT true'), 'server accepts connections again');
ok($node->log_contains("server process \\(PID $pid\\) was terminated by signal 9", $log_offset),
	'the postmaster saw the backend die');
ok($node->log_contains('all server processes terminated; reinitializing', $log_offset),
	'the postmaster reinitialized');
check_after_crash('backend SIGKILL', $acks2, $planned2, \@t2);

# both phases together, after a clean restart
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'),
	0, 'invariants hold after a clean restart');

$node->stop;
done_testing();

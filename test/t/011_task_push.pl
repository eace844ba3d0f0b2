# NOTIFY lagbid_tasks (issue 13): a task that starts accepting bids
# (publish, open_bidding, reopen, a space's republication) is pushed to
# listening providers at commit -- never on rollback -- with its public
# terms and nothing sealed (no workload, no asks).  One psql session LISTENs
# and works; psql prints each notification after the command that delivered
# it, so the output's order shows when it arrived.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('push');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lagbid');

# run sql in one session; return its output lines, notifications on
# lagbid_tasks as "NOTIFY <payload>"
sub session
{
	my ($sql) = @_;
	my $out = $node->safe_psql('postgres', "SET TimeZone = 'UTC'; LISTEN lagbid_tasks;\n$sql");
	my @lines;
	for my $l (split /\n/, $out)
	{
		if ($l =~ /^Asynchronous notification "lagbid_tasks" with payload "(.*)" received from server process with PID \d+\.$/)
		{
			push @lines, "NOTIFY $1";
		}
		elsif ($l =~ /^Asynchronous notification/)
		{
			push @lines, "OTHER $l";
		}
		else
		{
			push @lines, $l;
		}
	}
	return @lines;
}

sub payloads
{
	return map { /^NOTIFY (.*)$/ ? decode_json($1) : () } @_;
}

$node->safe_psql('postgres', q{
	SELECT lagbid.deposit('alice', 100000, 'push-1');
});

# rollback: nothing; commit: one notification, delivered at COMMIT
my @out = session(q{
	SET lagbid.clock = '2030-01-01 00:00:00+00';
	BEGIN;
	SELECT lagbid.publish_task('alice', '{"cpu": 2}', 1, 2, 3, region => 'eu');
	ROLLBACK;
	SELECT 'after rollback';
	BEGIN;
	SELECT lagbid.publish_task('alice', '{"cpu": 2, "gpu": "A100"}', 1.5, 2.25, 3, region => 'eu', replicas => 2,
	                           workload => '{"command": ["echo", "secret-workload"]}');
	SELECT 'inside';
	COMMIT;
	SELECT 'after commit';
});
is_deeply(\@out, ['1', 'after rollback', '2', 'inside', $out[4], 'after commit'],
	'nothing on rollback; one notification at commit, not before')
  or diag(join("\n", @out));
like($out[4], qr/^NOTIFY /, 'the notification arrives with the COMMIT');
my ($p) = payloads(@out);
is_deeply($p,
	{
		task_id => 2, owner => 'alice', region => 'eu',
		resources => { cpu => 2, gpu => 'A100' },
		price_min => 1.5, price_max => 2.25, duration_hours => 3, replicas => 2,
		bidding_deadline => '2030-01-01T00:10:00+00:00'
	},
	'the payload: the task\'s public terms');
unlike($out[4], qr/secret-workload|command/, 'the workload never travels on the channel');

# open => false: nothing until open_bidding; reopening announces again
@out = session(q{
	SET lagbid.clock = '2030-01-01 01:00:00+00';
	SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, open => false);
	SELECT 'created';
	SELECT lagbid.open_bidding(3);
	SET lagbid.clock = '2030-01-01 01:05:00+00';
	SELECT lagbid.close_bidding(3);
	SELECT 'closed';
	SELECT lagbid.open_bidding(3);
});
my @p = payloads(@out);
is(scalar(@p), 2, 'open_bidding and reopening each announce once')
  or diag(join("\n", @out));
is_deeply([ map { $_->{task_id} } @p ], [ 3, 3 ], 'both for the task opened');
is($p[0]{bidding_deadline}, '2030-01-01T01:10:00+00:00', 'opened: deadline from the opening');
is($p[1]{bidding_deadline}, '2030-01-01T01:15:00+00:00', 'reopened: a new deadline');
ok(!defined $p[0]{region} && exists $p[0]{region}, 'a task open to every region says region null');
is($out[1], 'created', 'nothing while created');

# a space's task is announced when the tick publishes it, and again when
# a changed space is republished
@out = session(q{
	SET lagbid.clock = '2030-01-01 02:00:00+00';
	SELECT lagbid.create_space('alice', 'app', '{"memory_gb": 4}', 1, 2, 10, region => 'us');
	SELECT 'created';
	SELECT lagbid.tick() ->> 'spaces_published';
	SELECT lagbid.update_space(1, workload => '{"command": ["true"]}');
	SELECT lagbid.tick() ->> 'spaces_published';
});
@p = payloads(@out);
is(scalar(@p), 2, 'a space\'s task is announced at each publication') or diag(join("\n", @out));
is_deeply([ map { $_->{task_id} } @p ], [ 4, 5 ], 'the new task each time');
is($p[1]{region}, 'us', 'with the space\'s terms');
is_deeply($p[1]{resources}, { memory_gb => 4 }, 'and its resources');

# a payload that would pass NOTIFY's 8000 bytes shrinks to the task id
@out = session(q{
	SELECT lagbid.publish_task('alice', jsonb_build_object('cpu', ('0.' || repeat('1', 9000))::numeric), 1, 2, 1);
});
@p = payloads(@out);
is_deeply(\@p, [ { task_id => 6 } ], 'a payload too long for NOTIFY carries the task id only')
  or diag(join("\n", @out));

is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'the market is consistent');
$node->stop;
done_testing();

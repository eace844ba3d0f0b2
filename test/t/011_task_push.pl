# NOTIFY lagbid_tasks (issue 13, changed by issue 19 defect 7b): a task
# that starts accepting bids (publish, open_bidding, reopen, a space's
# republication) is pushed to listening providers after its commit -- never
# on rollback, never before the commit -- by the database's push worker,
# not by the market's own backend, with the task's id only ({"task_id": N},
# or {"task_ids": [...]} for a batch): no terms, nothing sealed.  The
# outbox's pushes on channel lagbid are the same ({"id": N} / {"ids":
# [...]}).  A psql session LISTENs; psql prints each notification with its
# sender's pid.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('push');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lagbid;
	SELECT lagbid.deposit('alice', 100000, 'push-1');
	SELECT lagbid.register_provider('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
	                                ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{"cpu": 8, "memory_gb": 8}', 50);
});

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN lagbid_tasks; LISTEN lagbid;');

# [channel, payload (decoded), sender pid] of what psql printed
sub notifications
{
	my ($out) = @_;
	my @n;
	while ($out =~ /Asynchronous notification "([^"]+)" with payload "(.*?)" received from server process with PID (\d+)\./g)
	{
		push @n, [ $1, decode_json($2), $3, $2 ];
	}
	return @n;
}

# wait until the worker pushed everything queued, then read the listener
# until it has $want notifications on $channel (or a few round trips when
# $want is 0); returns those
sub pushed
{
	my ($want, $channel) = @_;
	$channel //= 'lagbid_tasks';
	$node->poll_query_until('postgres', 'SELECT pending = 0 FROM lagbid.push_status')
	  or die 'the push worker left ids queued';
	my $out = '';
	my @n;
	for my $try (1 .. ($want ? 100 : 5))
	{
		$out .= $listener->query('SELECT 1');
		@n = grep { $_->[0] eq $channel } notifications($out);
		last if $want && @n >= $want;
		select(undef, undef, undef, 0.05);
	}
	return @n;
}

sub worker_pid { return $node->safe_psql('postgres', 'SELECT pid FROM lagbid.push_status'); }

# rollback: nothing; commit: one push, after the commit, from the worker
my $out = $node->safe_psql('postgres', q{
	SET lagbid.clock = '2030-01-01 00:00:00+00';
	BEGIN;
	SELECT lagbid.publish_task('alice', '{"cpu": 2}', 1, 2, 3, region => 'eu');
	ROLLBACK;
	SELECT pg_backend_pid();
	SELECT lagbid.publish_task('alice', '{"cpu": 2, "gpu": "A100"}', 1.5, 2.25, 3, region => 'eu', replicas => 2,
	                           workload => '{"command": ["echo", "secret-workload"]}');
});
my (undef, $market_pid, $task) = split /\n/, $out;
is($task, '2', 'the rolled-back task took id 1');
my @n = pushed(1);
is(scalar(@n), 1, 'one push for the committed task, none for the rolled-back one')
  or diag(explain \@n);
is_deeply($n[0][1], { task_id => 2 }, 'the payload names the task only: no terms, no workload');
unlike($n[0][3], qr/secret-workload|owner|price/, 'nothing else travels on the channel');
is($n[0][0], 'lagbid_tasks', 'on channel lagbid_tasks');
is($n[0][2], worker_pid(), 'sent by the push worker');
isnt($n[0][2], $market_pid, 'not by the publishing backend');

# not before the commit: the worker polls (every second) and is woken, yet
# an uncommitted task is invisible to it
my $market = $node->background_psql('postgres');
$market->query_safe(q{BEGIN; SELECT lagbid.publish_task('alice', '{}', 1, 2, 1);});
$market->query_safe('SELECT pg_sleep(1.5)');
@n = pushed(0);
is(scalar(@n), 0, 'nothing is pushed while the publishing transaction is open');
$market->query_safe('COMMIT');
@n = pushed(1);
is_deeply([ map { $_->[1] } @n ], [ { task_id => 3 } ], 'the task is pushed once it commits');
$market->quit;

# open => false: nothing until open_bidding; reopening announces again
$node->safe_psql('postgres', q{
	SET lagbid.clock = '2030-01-01 01:00:00+00';
	SELECT lagbid.publish_task('alice', '{}', 1, 2, 1, open => false);
});
@n = pushed(0);
is(scalar(@n), 0, 'nothing while created');
$node->safe_psql('postgres', q{SET lagbid.clock = '2030-01-01 01:00:00+00'; SELECT lagbid.open_bidding(4);});
@n = pushed(1);
is_deeply([ map { $_->[1] } @n ], [ { task_id => 4 } ], 'open_bidding pushes the task');
$node->safe_psql('postgres', q{
	SET lagbid.clock = '2030-01-01 01:05:00+00';
	SELECT lagbid.close_bidding(4);
	SELECT lagbid.open_bidding(4);
});
@n = pushed(1);
is_deeply([ map { $_->[1] } @n ], [ { task_id => 4 } ], 'reopening pushes it again');

# a space's task is pushed when the tick publishes it, and again when a
# changed space is republished
$node->safe_psql('postgres', q{
	SET lagbid.clock = '2030-01-01 02:00:00+00';
	SELECT lagbid.create_space('alice', 'app', '{"memory_gb": 4}', 1, 2, 10, region => 'us');
	SELECT lagbid.tick();
});
@n = pushed(1);
is_deeply([ map { $_->[1] } @n ], [ { task_id => 5 } ], 'a space\'s task is pushed at its publication');
$node->safe_psql('postgres', q{
	SET lagbid.clock = '2030-01-01 02:00:00+00';
	SELECT lagbid.update_space(1, workload => '{"command": ["true"]}');
	SELECT lagbid.tick();
});
@n = pushed(1);
is_deeply([ map { $_->[1] } @n ], [ { task_id => 6 } ], 'and the new task at its republication');

# a batch: tasks opened in one transaction go out in one NOTIFY, in order
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT lagbid.publish_task('alice', '{}', 1, 2, 1) FROM generate_series(1, 3);
	COMMIT;
});
@n = pushed(1);
is_deeply([ map { $_->[1] } @n ], [ { task_ids => [ 7, 8, 9 ] } ], 'three tasks of one commit: one push naming the three');

# channel lagbid: the outbox rows, ids only; a commit's rows in one push
$node->safe_psql('postgres', q{
	SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, bid_limit => 1, auto_allocate => false);
	SELECT lagbid.place_bid(10, 1, 1.5);
});
pushed(1);
pushed(0, 'lagbid');
my $from = $node->safe_psql('postgres', q{SELECT coalesce(max(id), 0) FROM lagbid.notification});
$node->safe_psql('postgres', q{SELECT lagbid.allocate(10)});
@n = pushed(1, 'lagbid');
my $ids = $node->safe_psql('postgres',
	qq{SELECT string_agg(id::text, ',' ORDER BY id) FROM lagbid.notification WHERE id > $from});
is(scalar(@n), 1, 'the allocation\'s notifications: one push') or diag(explain \@n);
my @got = map { exists $_->[1]{ids} ? @{ $_->[1]{ids} } : $_->[1]{id} } @n;
is(join(',', @got), $ids, 'naming every outbox row of that commit, in order');
ok(!grep({ grep { !/^(ids?)$/ } keys %{ $_->[1] } } @n), 'ids only');
is($n[0][2], worker_pid(), 'sent by the push worker');

# the operator's view
my $status = $node->safe_psql('postgres',
	q{SELECT running, pending, pushed >= 10, notifies >= 9, failures FROM lagbid.push_status});
is($status, 't|0|t|t|0', 'lagbid.push_status: the worker runs, nothing pending, what it pushed, no failure');

$listener->quit;
is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'the market is consistent');
$node->stop;
done_testing();

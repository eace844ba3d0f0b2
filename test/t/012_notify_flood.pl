# Issue 19 defect 7(b), the reviewer's attack: one session LISTENs and stays
# idle in a transaction while others fill NOTIFY's queue (8 GB in
# PostgreSQL 15, filled for real here: about a minute) until every NOTIFY
# fails with "too many notifications in the NOTIFY queue".  On 0.3
# publish_task and tick() then failed and the tick's work rolled back.
# Must hold: the market's own commits never fail or wait because of NOTIFY
# (publish, bids, allocation, the tick all succeed under the full queue),
# and nothing is lost: once the queue drains, the push worker pushes every
# queued id (every outbox row, every opened task).  A LISTENing client reads
# each NOTIFY's sender pid (psql prints it): every push comes from the push
# worker, never from a market session's backend.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('flood');
$node->init;
$node->append_conf('postgresql.conf', "max_worker_processes = 16\n");
$node->start;

# the queue is 8 GB of files under pg_notify/
my $free_gb = 0;
if (open(my $df, '-|', 'df', '-Pk', $node->data_dir))
{
	my @l = <$df>;
	close($df);
	$free_gb = (split(/\s+/, $l[-1]))[3] / 1024 / 1024 if @l >= 2;
}
plan skip_all => sprintf('filling NOTIFY\'s queue needs 9 GB of disk; %.1f GB free', $free_gb)
  if $free_gb < 12;

$node->safe_psql('postgres', q{
	CREATE EXTENSION lagbid;
	SELECT lagbid.deposit('alice', 100000, 'flood-1');
	SELECT lagbid.register_provider('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
	                                ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{"cpu": 8}', 50);
});

# Asynchronous notifications psql printed: [channel, payload, sender pid]
sub notifications
{
	my ($out) = @_;
	my @n;
	while ($out =~ /Asynchronous notification "([^"]+)" with payload "(.*?)" received from server process with PID (\d+)\./g)
	{
		push @n, [ $1, $2, $3 ];
	}
	return @n;
}

# the provider's listener: it stays out of transactions and reads its queue
# (each query gets a fresh timeout: the flood takes minutes on a busy machine)
my $listener = $node->background_psql('postgres');
$listener->set_query_timer_restart();
$listener->query_safe('LISTEN lagbid; LISTEN lagbid_tasks;');
my $heard = '';

# the attacker's first session: LISTENs (another channel) and stays idle in
# a transaction, so that the queue's tail cannot move past it
my $blocker = $node->background_psql('postgres');
$blocker->set_query_timer_restart();
my $blocker_pid = $blocker->query_safe('LISTEN quiet; BEGIN; SELECT pg_catalog.txid_current(); SELECT pg_catalog.pg_backend_pid();');
$blocker_pid = (split /\n/, $blocker_pid)[-1];

# a market session before the attack: the worker runs and pushes
my $before = $node->safe_psql('postgres', q{SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, region => 'eu')});
$node->poll_query_until('postgres', 'SELECT pending = 0 AND running FROM lagbid.push_status')
  or die 'the push worker did not push the first task';

# the flood: unique 4 kB payloads, one page of the queue each, from two
# sessions, until NOTIFY refuses
my @flooders;
for my $k (1 .. 2)
{
	my ($out, $err) = ('', '');
	my $script = $node->basedir . "/flood$k.sql";
	open(my $fh, '>', $script) or die "$script: $!";
	for my $i (1 .. 70)
	{
		print $fh "SELECT count(pg_catalog.pg_notify('flood', pg_catalog.repeat('x', 4080) || '$k-$i-' || i)) "
		  . "FROM pg_catalog.generate_series(1, 10000) i;\n";
	}
	close($fh);
	push @flooders,
	  IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', $script ],
		'>', \$out, '2>', \$err);
}
$_->finish for @flooders;

my ($rc, $out, $err) = $node->psql('postgres', q{SELECT pg_catalog.pg_notify('anyone', 'hello')});
like($err, qr/too many notifications in the NOTIFY queue/,
	'the attack works: NOTIFY\'s queue is full, any NOTIFY fails');
cmp_ok($node->safe_psql('postgres', 'SELECT pg_catalog.pg_notification_queue_usage()'), '>', 0.99,
	'the queue is full');

# the market under attack: publish, bids (the closing one allocates and
# notifies), a space that the tick publishes, the tick
my $t0 = time;
($rc, $out, $err) = $node->psql('postgres', q{
	SELECT pg_catalog.pg_backend_pid();
	SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, region => 'eu', bid_limit => 1);
	SELECT lagbid.place_bid(currval(pg_catalog.pg_get_serial_sequence('lagbid.task', 'id')), 1, 1.5);
	SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 2, 1, region => 'eu');
	SELECT lagbid.create_space('alice', 'app', '{"cpu": 1}', 1, 2, 10, region => 'eu');
	SELECT lagbid.tick() ->> 'spaces_published';
});
is($rc, 0, 'publish_task, place_bid (closing and allocating), create_space and tick() succeed under the full queue')
  or diag($err);
unlike($err, qr/NOTIFY/, 'and say nothing about NOTIFY');
my ($market_pid, $task_a, $bid, $task_b, $space, $published) = split /\n/, $out;
is($published, '1', 'the tick published the space\'s task');
cmp_ok(time - $t0, '<', 30, 'without waiting on the queue');

my $pending = $node->safe_psql('postgres', 'SELECT pending FROM lagbid.push_status');
cmp_ok($pending, '>=', 4, 'the pushes wait in lagbid.push_queue (two tasks, a space\'s task, bid_won notifications)');
ok($node->poll_query_until('postgres',
		q{SELECT failures > 0 AND last_error ~ 'too many notifications' FROM lagbid.push_status}),
	'the push worker records its failed pushes in lagbid.push_status');

# The drain: the attacker lets go and every queued id is pushed, each once,
# all from the worker.  Draining 8 GB takes the listeners minutes (4.5 on a
# quiet 2-core machine, more than 15 when other suites run): it runs with
# LAGBID_FLOOD_DRAIN=1 (LAGBID_FLOOD_DRAIN=1 bash scripts/test.sh tap), not
# in a plain make test.  What must
# hold under the attack -- the market's commits above -- always runs, and
# test/t/011_task_push.pl proves in make test that every push comes from
# the worker after commit and none is lost.
SKIP:
{
	# the attacker lets go (its session ends): the queue drains -- the worker
	# nudges the listeners that the flood's failed last transaction left behind
	# -- and the worker pushes everything
	$node->safe_psql('postgres', "SELECT pg_catalog.pg_terminate_backend($blocker_pid)");
	$blocker->quit;
	skip 'the 8 GB drain runs with LAGBID_FLOOD_DRAIN=1 bash scripts/test.sh tap', 8
	  unless $ENV{LAGBID_FLOOD_DRAIN};
	# the listeners read through up to 8 GB before the queue's tail moves: on a
	# busy 2-core machine that took 4.5 minutes, past poll_query_until's default
	# 180 s, so this wait allows 15 minutes
	{
		local $PostgreSQL::Test::Utils::timeout_default = 900;
		ok($node->poll_query_until('postgres', 'SELECT pending = 0 AND running FROM lagbid.push_status'),
			'once the queue drains, every queued id is pushed');
	}

	my $want = $node->safe_psql('postgres', q{
		SELECT string_agg(id::text, ',' ORDER BY id) FROM lagbid.notification;
		SELECT string_agg(id::text, ',' ORDER BY id) FROM lagbid.task WHERE state <> 'created';
		SELECT pid FROM lagbid.push_status;
	});
	my ($want_notes, $want_tasks, $worker_pid) = split /\n/, $want;

	# read what the listener got (psql prints notifications after a command)
	my (%notes, %tasks, %senders);
	for my $try (1 .. 100)
	{
		$heard .= $listener->query('SELECT 1');
		%notes = (); %tasks = (); %senders = ();
		for my $n (notifications($heard))
		{
			my ($channel, $payload, $pid) = @$n;
			$senders{$pid}++;
			my @ids = $payload =~ /(\d+)/g;
			if ($channel eq 'lagbid') { $notes{$_}++ for @ids; }
			else { $tasks{$_}++ for @ids; }
		}
		last if join(',', sort { $a <=> $b } keys %notes) eq $want_notes
		  && join(',', sort { $a <=> $b } keys %tasks) eq $want_tasks;
		select(undef, undef, undef, 0.1);
	}
	is(join(',', sort { $a <=> $b } keys %notes), $want_notes, 'every outbox row was pushed on channel lagbid');
	is(join(',', sort { $a <=> $b } keys %tasks), $want_tasks, 'every opened task was pushed on channel lagbid_tasks');
	ok(!grep({ $_ > 1 } values %notes) && !grep({ $_ > 1 } values %tasks), 'each id once');
	is_deeply([ keys %senders ], [$worker_pid], 'every push came from the push worker');
	ok(!$senders{$market_pid}, 'none from the market session\'s backend');
	like($heard, qr/"lagbid_tasks" with payload "\{"task_ids?": \[?\d/, 'task pushes carry ids only');
	unlike($heard, qr/"owner"|"price|"resources"/, 'never terms');
}

$listener->quit;
is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'the market is consistent');
$node->stop;
done_testing();

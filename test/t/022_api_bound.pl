# One login cannot stall the market (issue 19, defect 7(a)).  The review's
# attack, by a provider's own bound login:
#     BEGIN; SELECT lagbid_api.place_bid(T, 2); SELECT pg_sleep(75); ROLLBACK;
# kept task T's row locked for 75 s: other bidders and the owner's
# close_bidding waited, the tick deferred T, and T ended failed no_bids.
# Now the first lagbid_api call of a transaction bounds it (src/api_guard.c):
# here the attack and its variants (the caller lifting the timeouts, the
# sleep in the same statement, an idle transaction, PREPARE TRANSACTION)
# are each cut off, the honest bidder's waits are refused as LB321 (409,
# Retry-After) and succeed on retry, and the owner's close_bidding goes
# through: T is allocated to the honest bidder, never failed no_bids.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('api_bound');
$node->init;
# short bounds, so that the test is quick; the defaults are 2 s, 5 s, 5 s, 15 s
$node->append_conf('postgresql.conf', q{
max_prepared_transactions = 2
lagbid.api_lock_timeout = '500ms'
lagbid.api_statement_timeout = '3s'
lagbid.api_idle_timeout = '3s'
lagbid.api_transaction_timeout = '6s'
});
$node->start;

my %node_id = (
	evil => '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
	good => '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE');
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lagbid;
	CREATE ROLE cp_evil LOGIN; CREATE ROLE cp_good LOGIN; CREATE ROLE alice LOGIN;
	GRANT lagbid_provider TO cp_evil, cp_good;
	GRANT lagbid_owner TO alice;
	SELECT lagbid.register_provider('$node_id{evil}', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', 10);
	SELECT lagbid.register_provider('$node_id{good}', ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}', 10);
	SELECT lagbid.bind_login('$node_id{evil}', 'cp_evil');
	SELECT lagbid.bind_login('$node_id{good}', 'cp_good');
	SELECT lagbid.bind_owner_login('alice', 'alice');
	SELECT lagbid.deposit('alice', 1000, 'bound-1');
});

# a task of alice's, open for bids (bid_limit 3: no bid closes it)
sub publish
{
	return $node->safe_psql('postgres', q{SELECT lagbid_api.publish_task('{}', 1, 10, 1, bid_limit => 3)},
		extra_params => [ '-U', 'alice' ]);
}

# the attacker: a psql of cp_evil running script (its statements, in order)
sub attack
{
	my ($name, $script) = @_;
	my $file = "${PostgreSQL::Test::Utils::tmp_check}/attack_$name.sql";
	open my $fh, '>', $file or die $!;
	print $fh $script;
	close $fh;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ $node->installed_command('psql'), '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=0',
		  '-d', $node->connstr('postgres') . ' user=cp_evil application_name=attacker', '-f', $file ],
		'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(60));
	return { h => $h, out => \$out, err => \$err };
}

# wait until the attacker's bid on task holds the task's row: its bid is
# visible to nobody, but its lock is (the task row in pg_locks)
sub wait_attacker_holds
{
	my ($task) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		                WHERE a.application_name = 'attacker' AND l.locktype = 'transactionid'
		                  AND l.mode = 'ExclusiveLock')
		   AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'attacker'
		                AND (query ~ 'pg_sleep|place_bid' OR state = 'idle in transaction'))})
	  or die "the attacker never held task $task";
}

# the honest bidder bids, retrying while it is refused as busy; returns the
# bid id and the refusals it saw
sub honest_bid
{
	my ($task) = @_;
	my @refusals;
	for (1 .. 60)
	{
		my ($rc, $out, $err) = $node->psql('postgres',
			"SELECT lagbid_api.place_bid($task, 3)", extra_params => [ '-U', 'cp_good' ]);
		return ($out, @refusals) if $rc == 0;
		push @refusals, $err;
		last unless $err =~ /LB321/;
	}
	return (undef, @refusals);
}

sub finish
{
	my ($a) = @_;
	eval { $a->{h}->finish; };
	return ${ $a->{err} };
}

# ---------------------------------------------------------------------------
# 0. a wait for a market row is bounded and refused as LB321, a 409 to retry
# ---------------------------------------------------------------------------
my $t0 = publish();
my $holder = $node->background_psql('postgres');
$holder->query_safe("BEGIN; SELECT 1 FROM lagbid.task WHERE id = $t0 FOR UPDATE;");
my ($rc, $out, $err) = $node->psql('postgres', "SELECT lagbid_api.place_bid($t0, 3)",
	extra_params => [ '-U', 'cp_good' ]);
like($err, qr/"code":"LB321"/, 'a bid waiting for a locked task row is refused with LB321');
like($err, qr/"status":409/, 'a 409 through PostgREST');
like($err, qr/"Retry-After":"1"/, 'with Retry-After');
like($err, qr/a market row this call needs is locked by another transaction/, 'saying why');
($rc, $out, $err) = $node->psql('postgres', "SELECT lagbid_api.close_bidding($t0)",
	extra_params => [ '-U', 'alice' ]);
like($err, qr/"code":"LB321"/, "the owner's close_bidding too");
$holder->query_safe('ROLLBACK');
$holder->quit;
is($node->safe_psql('postgres', "SELECT count(*) FROM lagbid.bid WHERE task_id = $t0"), '0',
	'nothing of the refused calls was written');

# ---------------------------------------------------------------------------
# 1. the review's attack: the sleep is cancelled by statement_timeout
# ---------------------------------------------------------------------------
my $t1 = publish();
my $a = attack('sleep', "BEGIN;\nSELECT lagbid_api.place_bid($t1, 2);\nSELECT pg_sleep(75);\nROLLBACK;\n");
wait_attacker_holds($t1);
my ($bid, @refusals) = honest_bid($t1);
ok(defined $bid, "the honest bidder's bid on task $t1 went through while the attacker meant to sleep 75 s");
$err = finish($a);
like($err, qr/canceling statement due to statement timeout/, "the attacker's pg_sleep was cancelled");
is($node->safe_psql('postgres', qq{SELECT lagbid_api.close_bidding($t1)}, extra_params => [ '-U', 'alice' ]), '',
	"the owner's close_bidding goes through");
is($node->safe_psql('postgres', qq{SELECT t.state || ' ' || p.node_id FROM lagbid.task t
	JOIN lagbid.job j ON j.task_id = t.id JOIN lagbid.provider p ON p.id = j.provider_id WHERE t.id = $t1}),
	"processing $node_id{good}", 'the task is allocated to the honest bidder, not failed no_bids');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id
	WHERE b.task_id = $t1 AND p.node_id = '$node_id{evil}'}), '0', "the attacker's bid was rolled back");

# ---------------------------------------------------------------------------
# 2. the attacker lifts the timeouts it can: the deadline ends its session
# ---------------------------------------------------------------------------
my $t2 = publish();
$a = attack('lifted', "BEGIN;\nSELECT lagbid_api.place_bid($t2, 2);\n"
	  . "SET LOCAL statement_timeout = 0;\nSET LOCAL idle_in_transaction_session_timeout = 0;\n"
	  . "SET LOCAL lock_timeout = 0;\nSELECT pg_sleep(75);\nROLLBACK;\n");
wait_attacker_holds($t2);
($rc, $out, $err) = $node->psql('postgres', q{
	SELECT count(*) FROM lagbid_api.my_bids() \g /dev/null
	SET lagbid.api_transaction_timeout = 0;}, extra_params => [ '-U', 'cp_evil' ]);
like($err, qr/permission denied to set parameter "lagbid.api_transaction_timeout"/,
	'the deadline is not the caller\'s to lift');
($rc, $out, $err) = $node->psql('postgres', q{
	SET lagbid.api_transaction_timeout = 0;
	SELECT count(*) FROM lagbid_api.my_bids() \g /dev/null
	SHOW lagbid.api_transaction_timeout;}, extra_params => [ '-U', 'cp_evil' ]);
is($out, '6s', 'not even before the library is loaded');
like($err, qr/permission denied to set parameter "lagbid.api_transaction_timeout"/, 'which says so');
($bid, @refusals) = honest_bid($t2);
ok(defined $bid, 'the honest bid went through once the deadline ended the attacker');
ok(scalar(grep { /LB321/ } @refusals) > 0, 'after LB321 refusals while the attacker held the row');
$err = finish($a);
like($err, qr/terminating connection/, "the attacker's session was ended");
is($node->safe_psql('postgres', qq{SELECT lagbid_api.close_bidding($t2)}, extra_params => [ '-U', 'alice' ]), '',
	'and the owner closes bidding');

# ---------------------------------------------------------------------------
# 3. the sleep in the statement of the call itself
# ---------------------------------------------------------------------------
my $t3 = publish();
$a = attack('same_statement', "SELECT lagbid_api.place_bid($t3, 2), pg_sleep(75);\n");
wait_attacker_holds($t3);
($bid, @refusals) = honest_bid($t3);
ok(defined $bid, 'a sleep in the same statement as the bid is cut off too');
like(finish($a), qr/terminating connection/, 'by the deadline');

# ---------------------------------------------------------------------------
# 4. a transaction left idle after the bid
# ---------------------------------------------------------------------------
my $t4 = publish();
$a = attack('idle', "BEGIN;\nSELECT lagbid_api.place_bid($t4, 2);\n\\! sleep 8\nSELECT 'still here';\n");
wait_attacker_holds($t4);
($bid, @refusals) = honest_bid($t4);
ok(defined $bid, 'an idle transaction holding a bid is ended');
$err = finish($a);
like($err, qr/idle-in-transaction timeout/, 'by the idle timeout');
unlike(${ $a->{out} }, qr/still here/, 'its session did not go on');

# ---------------------------------------------------------------------------
# 5. a prepared transaction would keep the locks with no session to end
# ---------------------------------------------------------------------------
my $t5 = publish();
($rc, $out, $err) = $node->psql('postgres',
	"BEGIN; SELECT lagbid_api.place_bid($t5, 2); PREPARE TRANSACTION 'keep';",
	extra_params => [ '-U', 'cp_evil' ]);
like($err, qr/a transaction that called lagbid_api cannot be prepared/, 'PREPARE TRANSACTION is refused');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing was prepared');
is($node->safe_psql('postgres', qq{SELECT lagbid_api.place_bid($t5, 3)}, extra_params => [ '-U', 'cp_good' ]) ne '', 1,
	'and the task is free');

# ---------------------------------------------------------------------------
# 6. honest use is untouched: a stricter setting of the caller is kept, the
#    settings end with the transaction, the platform is not bound
# ---------------------------------------------------------------------------
is($node->safe_psql('postgres', q{
	BEGIN;
	SET LOCAL statement_timeout = '1s';
	SELECT count(*) FROM lagbid_api.my_bids() \g /dev/null
	SELECT current_setting('statement_timeout') || ' ' || current_setting('lock_timeout')
	       || ' ' || current_setting('idle_in_transaction_session_timeout');
	COMMIT;}, extra_params => [ '-U', 'cp_good' ]), '1s 500ms 3s',
	'inside a transaction that called the API: the caller\'s stricter statement_timeout kept, the others set');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM lagbid_api.my_bids() \g /dev/null
	SELECT current_setting('statement_timeout') || ' ' || current_setting('lock_timeout')}, extra_params => [ '-U', 'cp_good' ]),
	'0 0', 'and gone with it');
is($node->safe_psql('postgres', q{
	BEGIN;
	SELECT lagbid.deposit('alice', 1, 'bound-2') \g /dev/null
	SELECT current_setting('statement_timeout');
	COMMIT;}), '0', 'the platform\'s own calls are not bound');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'the market is consistent');

$node->stop;
done_testing();

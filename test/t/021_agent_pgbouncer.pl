# lagbid-agent through a real PgBouncer (Debian's) in transaction mode, on
# loopback, with LISTEN on its own direct session (market.listen_conninfo):
#
#   1. two agents whose statements go through PgBouncer (pool_mode =
#      transaction, one server connection per pool) and whose LISTEN goes
#      straight to PostgreSQL; each holds exactly one direct LISTEN backend
#   2. a pushed task: bid from the NOTIFY (not a scan), allocated, run,
#      uploaded through PgBouncer, finalized, paid once
#   3. PgBouncer's own view: the agents are its clients, and their
#      statements ran as transactions on its pools
#   4. the incremental scan: with scan_interval_s = 1 and LISTEN unbroken,
#      open_tasks() is read once (the reload) and then not, for 5 s; the
#      LISTEN backend terminated: the agent logs it, LISTENs again, reads
#      open_tasks() whole (a push may have been missed) and still bids on
#      the next push; PgBouncer restarted: the agent reconnects through it
#      and carries on
#   5. listen_conninfo emptied by SIGHUP: LISTEN goes through PgBouncer
#      with the statements, and the push never reaches the agent (the
#      reason for listen_conninfo)
# check_invariants() is empty at the end.  Every wait is bounded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd qw(abs_path);
use Time::HiRes qw(usleep time);

my $agent = -x 'agent/lagbid-agent' ? abs_path('agent/lagbid-agent') : 'lagbid-agent';
my $pgbouncer = -x '/usr/sbin/pgbouncer' ? '/usr/sbin/pgbouncer' : 'pgbouncer';
if (system("$pgbouncer --version >/dev/null 2>&1") != 0)
{
	plan skip_all => 'pgbouncer is not installed (scripts/deps.sh installs it)';
}
if (system("bwrap --unshare-all --ro-bind / / true >/dev/null 2>&1") != 0)
{
	plan skip_all => 'bubblewrap cannot create namespaces here';
}

my $node = PostgreSQL::Test::Cluster->new('pgbouncer');
$node->init;
$node->append_conf('postgresql.conf', "log_min_messages = warning\nmax_connections = 40\n");
$node->start;
my $me = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', q{
CREATE EXTENSION lagbid;
SELECT lagbid.deposit('alice', 100000, 'seed');
});
for my $i (1 .. 2)
{
	# what the agent cannot SET on a pooled session, the role carries
	$node->safe_psql('postgres', "CREATE ROLE cp$i LOGIN; GRANT lagbid_provider TO cp$i; ALTER ROLE cp$i SET statement_timeout = '60s';");
}

# its own directory: 020_agent.pl writes agent1.log ... into tmp_check too
my $tmp = PostgreSQL::Test::Utils::tempdir("agent_pgbouncer");
my ($host, $port) = ($node->host, $node->port);
my $bport = PostgreSQL::Test::Cluster::get_free_port();
sub sql { return $node->safe_psql('postgres', shift) }
sub slurp { my $f = shift; open my $fh, '<', $f or return ''; local $/; my $s = <$fh>; close $fh; return $s }
sub spit { my ($f, $s) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $s; close $fh; }

sub wait_for
{
	my ($sql, $what, $seconds) = @_;
	$seconds //= 30;
	my $deadline = time + $seconds;
	while (time < $deadline)
	{
		return 1 if $node->safe_psql('postgres', $sql) eq 't';
		usleep(100_000);
	}
	diag("timed out after $seconds s waiting for: $what");
	return 0;
}
sub wait_log
{
	my ($i, $re, $seconds) = @_;
	my $deadline = time + ($seconds // 20);
	while (time < $deadline)
	{
		return 1 if slurp("$tmp/agent$i.log") =~ $re;
		usleep(100_000);
	}
	return 0;
}

# ---- PgBouncer, transaction mode, loopback, one server connection per pool ----
spit("$tmp/userlist.txt", join('', map { qq{"$_" ""\n} } 'cp1', 'cp2', $me));
spit("$tmp/pgbouncer.ini", <<INI);
[databases]
postgres = host=$host port=$port dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $tmp/userlist.txt
admin_users = $me
pool_mode = transaction
default_pool_size = 1
max_client_conn = 50
server_reset_query =
logfile = $tmp/pgbouncer.log
pidfile = $tmp/pgbouncer.pid
INI
my $bouncer;
sub start_bouncer
{
	$bouncer = IPC::Run::start([ $pgbouncer, "$tmp/pgbouncer.ini" ], '<', \undef, '>>', "$tmp/pgbouncer.out", '2>&1');
	for (1 .. 50)
	{
		return 1 if system("psql -X -qAt -h 127.0.0.1 -p $bport -U $me -d pgbouncer -c 'SHOW VERSION' >/dev/null 2>&1") == 0;
		usleep(100_000);
	}
	return 0;
}
ok(start_bouncer(), "PgBouncer runs on 127.0.0.1:$bport in transaction mode");
sub admin
{
	my $cmd = shift;
	my $out = `psql -X -qAt -F '|' -h 127.0.0.1 -p $bport -U $me -d pgbouncer -c '$cmd' 2>&1`;
	return $out;
}

my %h;
END
{
	for my $handle (values %h) { eval { $handle->kill_kill(grace => 2) if $handle->pumpable; }; }
	eval { $bouncer->kill_kill(grace => 2) if $bouncer && $bouncer->pumpable; };
}

# ---- 1. agents: statements through PgBouncer, LISTEN direct ----
my (%dir, %node_id);
for my $i (1 .. 2)
{
	$dir{$i} = "$tmp/agent$i";
	my ($out, $err) = ('', '');
	# init speaks a few statements through PgBouncer too
	my $ok = IPC::Run::run([ $agent, 'init', '--dir', $dir{$i},
			'--conninfo', "host=127.0.0.1 port=$bport dbname=postgres user=cp$i",
			'--region', 'eu-west', '--multiaddr', "/ip4/127.0.0.1/tcp/" . (4100 + $i),
			'--max-concurrent', '2' ], '>', \$out, '2>', \$err, IPC::Run::timeout(30));
	ok($ok, "agent $i: init through PgBouncer succeeds") or diag("stdout: $out\nstderr: $err");
	($node_id{$i}) = $out =~ /^node id (\S+)$/m;
	my $conf = slurp("$dir{$i}/lagbid-agent.conf");
	like($conf, qr/^listen_conninfo = $/m, "agent $i: init writes an empty listen_conninfo");
	my $rate = sprintf('%.2f', 1 + $i);
	$conf =~ s/^listen_conninfo = .*$/listen_conninfo = host=$host port=$port dbname=postgres user=cp$i/m;
	$conf =~ s/^cpu_core_hour = .*$/cpu_core_hour = $rate/m;
	$conf =~ s/^memory_gb_hour = .*$/memory_gb_hour = 0/m;
	$conf =~ s/^storage_gb_hour = .*$/storage_gb_hour = 0/m;
	# a long interval: a bid within it came from the push
	$conf =~ s/^scan_interval_s = .*$/scan_interval_s = 3600/m;
	spit("$dir{$i}/lagbid-agent.conf", $conf);
}
sub start_agent
{
	my $i = shift;
	my $log = "$tmp/agent$i.log";
	# agent 1 logs DEBUG lines: its scans
	$h{$i} = IPC::Run::start([ $agent, 'run', '--dir', $dir{$i}, ($i == 1 ? ('--verbose') : ()) ],
		'<', \undef, '>>', $log, '2>>', $log);
}
start_agent($_) for 1 .. 2;
ok(wait_for(q{SELECT count(*) = 2 FROM pg_stat_activity
               WHERE usename IN ('cp1', 'cp2') AND query = 'LISTEN lagbid_tasks; LISTEN lagbid'},
		'two direct LISTEN sessions'), 'each agent LISTENs on a direct session');
ok(wait_log(1, qr/connected to the market at 127\.0\.0\.1:$bport as "cp1" \(queries only/),
	'agent 1 logs its statement session through PgBouncer');
like(slurp("$tmp/agent1.log"), qr/connected to the market's notifications at \Q$host\E:$port as "cp1"/,
	'agent 1 logs its LISTEN session, direct');
# past the first full scan (a random 0 to 5 s after connecting)
sleep 6;

# ---- 2. a pushed task, end to end ----
sub publish
{
	return sql(q{SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 5, 1, replicas => 2, bid_limit => 2,
	              workload => '{"command": ["sh", "-c", "echo pooled"]}'::jsonb)});
}
my $t1 = publish();
ok(wait_for("SELECT count(*) = 2 FROM lagbid.job WHERE task_id = $t1 AND state = 'submitted'", 'two results', 30),
	'both agents bid, won, ran and uploaded through PgBouncer');
for my $i (1 .. 2)
{
	like(slurp("$tmp/agent$i.log"), qr/bid \d+ placed on task $t1 at [\d.]+\/h \(cost [\d.]+\/h, from notify/,
		"agent $i bid on the push (from notify), not on a scan");
}
sql("SELECT lagbid.finalize($t1)");
is(sql("SELECT rtrim(convert_from(lagbid.task_result($t1), 'UTF8'), E'\\n')"), 'pooled', "the leader's content is the workload's output");
is(sql(qq{SELECT count(*) FROM lagbid.job j JOIN lagbid.bid b ON b.id = j.bid_id
          WHERE j.task_id = $t1 AND j.state = 'completed' AND j.paid = b.price}), 2, 'each agent is paid once, its ask');

# ---- 3. PgBouncer saw them ----
my $clients = admin('SHOW CLIENTS');
like($clients, qr/^C\|cp1\|postgres\|/m, 'agent 1 is a client of PgBouncer');
like($clients, qr/^C\|cp2\|postgres\|/m, 'agent 2 is a client of PgBouncer');
my $pools = admin('SHOW POOLS');
diag("PgBouncer pools: " . join(' ; ', grep { /cp[12]/ } split /\n/, $pools));
my $stats = admin('SHOW STATS_TOTALS');
my ($xacts) = $stats =~ /^postgres\|(\d+)\|/m;
cmp_ok($xacts // 0, '>', 10, "the agents' statements ran as transactions on PgBouncer's pools (" . ($xacts // '?') . ')');
is(sql(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'cp1'}), '2',
	'agent 1 holds two backends: the pooled one and the LISTEN one');

# ---- 4. the incremental scan, and the LISTEN session and PgBouncer go away ----
sub since { my ($i, $from) = @_; return substr(slurp("$tmp/agent$i.log"), $from) }
sub full_reads { my $t = shift; my @m = $t =~ /DEBUG:  \d+ open tasks \(scan\)$/mg; return scalar @m }
sub skipped_reads { my $t = shift; my @m = $t =~ /open_tasks\(\) not read$/mg; return scalar @m }
{
	my $conf = slurp("$dir{1}/lagbid-agent.conf");
	$conf =~ s/^scan_interval_s = .*$/scan_interval_s = 1/m;
	spit("$dir{1}/lagbid-agent.conf", $conf);
	my $from = length(slurp("$tmp/agent1.log"));
	$h{1}->signal('HUP');
	ok(wait_log(1, qr/setting "market\.scan_interval_s" changed from 3600 to 1/), 'agent 1 reloads scan_interval_s = 1');
	# wait for three timer turns that skipped the read (a loaded CI machine
	# may take longer than three seconds for them), then count the reads
	my $deadline = time + 30;
	usleep(200_000) while time < $deadline && skipped_reads(since(1, $from)) < 3;
	my $t = since(1, $from);
	# up to the third skipped read: about three timer turns, well before the
	# safety-net full scan (every 10 intervals)
	$t = $1 if $t =~ /\A((?:.*?open_tasks\(\) not read\n){3})/s;
	is(full_reads($t), 1, 'with LISTEN unbroken, open_tasks() is read once (after the reload), not at every turn of the 1 s timer');
	cmp_ok(skipped_reads($t), '>=', 3, 'the other timer turns only reconcile (' . skipped_reads($t) . ' logged "open_tasks() not read")');
}
my $before_cut = length(slurp("$tmp/agent1.log"));
sql(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'cp1' AND query = 'LISTEN lagbid_tasks; LISTEN lagbid'});
ok(wait_log(1, qr/lost the market connection that LISTENs/), 'agent 1 logs the loss of its LISTEN session');
ok(wait_for(q{SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'cp1' AND query = 'LISTEN lagbid_tasks; LISTEN lagbid'},
		'agent 1 LISTENs again', 20), 'agent 1 LISTENs again');
{
	my $deadline = time + 10;
	usleep(200_000) while time < $deadline && full_reads(since(1, $before_cut)) < 1;
	cmp_ok(full_reads(since(1, $before_cut)), '>=', 1, 'after the break of its LISTEN session agent 1 reads open_tasks() whole');
}
$bouncer->kill_kill(grace => 2);
ok(wait_log(2, qr/lost the market connection: /, 20), 'agent 2 logs the loss of PgBouncer');
ok(start_bouncer(), 'PgBouncer restarted');
ok(wait_log(2, qr/connected to the market at 127\.0\.0\.1:$bport as "cp2" \(queries only: LISTEN has its own session\) after a disconnection/, 30),
	'agent 2 reconnects through PgBouncer');
sleep 6;    # past the reconnects' random scan delay
my $t2 = publish();
ok(wait_for("SELECT count(*) = 2 FROM lagbid.job WHERE task_id = $t2 AND state = 'submitted'", 'two results', 30),
	'both agents bid and deliver on the next push');
sql("SELECT lagbid.finalize($t2)");

# ---- 5. LISTEN through the pooler: the push is lost ----
my $conf = slurp("$dir{2}/lagbid-agent.conf");
$conf =~ s/^listen_conninfo = .*$/listen_conninfo = /m;
spit("$dir{2}/lagbid-agent.conf", $conf);
my $from2 = length(slurp("$tmp/agent2.log"));
$h{2}->signal('HUP');
ok(wait_log(2, qr/setting "market\.listen_conninfo" changed \(reconnecting\)/), 'agent 2 reloads an empty listen_conninfo');
{
	my $deadline = time + 20;
	usleep(200_000) while time < $deadline && since(2, $from2) !~ /connected to the market at 127\.0\.0\.1:$bport as "cp2" after/;
	like(since(2, $from2), qr/connected to the market at 127\.0\.0\.1:$bport as "cp2" after a disconnection\n/,
		'agent 2 reconnects through PgBouncer with one session that also LISTENs');
}
ok(wait_for(q{SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'cp2' AND query = 'LISTEN lagbid_tasks; LISTEN lagbid'},
		'agent 2 has no direct LISTEN session', 20), 'agent 2 has no direct LISTEN session any more');
sleep 6;
my $t3 = sql(q{SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 5, 1, replicas => 1, bid_limit => 1,
              workload => '{"command": ["true"]}'::jsonb, region => 'eu-west')});
# agent 1 bids at once on its direct LISTEN; agent 2 must not have heard it
ok(wait_for("SELECT count(*) = 1 FROM lagbid.bid WHERE task_id = $t3", 'agent 1 bid'), 'agent 1 bids on the push');
usleep(1_000_000);
unlike(slurp("$tmp/agent2.log"), qr/task $t3\b/,
	'agent 2, LISTENing through PgBouncer in transaction mode, never hears the push');
ok(wait_for("SELECT count(*) = 1 FROM lagbid.job WHERE task_id = $t3 AND state = 'submitted'", 'result'), 'task 3 delivered');
sql("SELECT lagbid.finalize($t3)");

is(sql('SELECT count(*) FROM lagbid.check_invariants()'), '0', 'check_invariants() is empty');
for my $i (1 .. 2) { $h{$i}->signal('TERM'); }
for my $i (1 .. 2) { $h{$i}->finish; is($h{$i}->result(0), 0, "agent $i stops with status 0"); }
$bouncer->kill_kill(grace => 2);
done_testing();

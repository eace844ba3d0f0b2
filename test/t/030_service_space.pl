# Service spaces with real agents and real HTTP (issue 21), loopback only:
#
#   agent A runs the leases (its front proxy on 127.0.0.1), agents B and C
#   only probe (they deny the owner, so they never bid).  The market clock
#   is fixed (lagbid.clock, set with ALTER SYSTEM so that every session,
#   the agents' too, sees it) and moved by the test; lagbid.probe_window is
#   10 s.  A window: move the clock 10 s, tick (it settles the window that
#   closed and assigns probers to the new one), wait until the probers
#   reported.  Nothing sleeps for minutes.
#
#   1. two service spaces: A bids, wins at the bidding deadline, starts
#      each app in its sandbox, reports the endpoint once the health path
#      answers; the owner fetches the page through A's proxy (Host routing,
#      http://NAME.localhost:PORT/)
#   2. probes: B and C GET the endpoint with the nonce, report the
#      signature; the windows are up, the provider paid per window
#   3. the app reaching the host's loopback (a listener standing for the
#      market's port, both front proxies) and the other lease's app: refused
#   4. kill the app: it restarts, the windows stay up
#   5. SIGSTOP the other app: its probes fail, its windows are refunded,
#      its lease goes degraded, then unstable at the third down window
#   6. kill -9 agent A and start it again: the lease is back (its app runs,
#      the same endpoint answers), nothing is paid twice
#   7. extend_space: the lease runs past its first deadline
#   8. expiry: the lease is expired, torn down by A (report_teardown), and
#      no process of it is left
#   9. money: for each lease paid + refunded + returned + what its escrow
#      still holds = what it took, to the unit; check_invariants() is empty
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd qw(abs_path);
use Time::HiRes qw(usleep time);
use POSIX qw(strftime);

my $agent = -x 'agent/lagbid-agent' ? abs_path('agent/lagbid-agent') : 'lagbid-agent';
if (system("bwrap --unshare-all --ro-bind / / true >/dev/null 2>&1") != 0)
{
	plan skip_all => 'bubblewrap cannot create namespaces here';
}
if (system("curl --version >/dev/null 2>&1") != 0)
{
	plan skip_all => 'curl is not installed';
}

# the market clock, as seconds from T0; every session reads it from the config
my $t0 = 1893456000;			# 2030-01-01 00:00:00 UTC
my $clock = 0;
sub clock_text { return strftime('%Y-%m-%d %H:%M:%S+00', gmtime($t0 + $_[0])) }

my $node = PostgreSQL::Test::Cluster->new('service');
$node->init;
$node->append_conf('postgresql.conf', "log_min_messages = warning\nmax_connections = 40\n"
	  . "lagbid.probe_window = 10\nlagbid.probers_per_window = 2\n"
	  . "lagbid.clock = '" . clock_text(0) . "'\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION lagbid;
SELECT lagbid.deposit('alice', 100000, 'seed');
});
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', "CREATE ROLE cp$i LOGIN; GRANT lagbid_provider TO cp$i;");
}
my $tmp = $PostgreSQL::Test::Utils::tmp_check;
my $host = $node->host;
my $port = $node->port;
sub sql { return $node->safe_psql('postgres', shift) }
sub slurp { my $f = shift; open my $fh, '<', $f or return ''; local $/; my $s = <$fh>; close $fh; return $s }

sub set_clock
{
	$clock = shift;
	sql("ALTER SYSTEM SET lagbid.clock = '" . clock_text($clock) . "'; SELECT pg_reload_conf();");
	# every backend reads the new value before its next statement
	my $want = clock_text($clock);
	my $deadline = time + 10;
	while (time < $deadline)
	{
		last if sql("SELECT lagbid.now() = '$want'::timestamptz") eq 't';
		usleep(50_000);
	}
	usleep(300_000);
}

sub wait_for
{
	my ($q, $what, $seconds) = @_;
	$seconds //= 30;
	my $deadline = time + $seconds;
	while (time < $deadline)
	{
		return 1 if sql($q) eq 't';
		usleep(100_000);
	}
	diag("timed out after $seconds s waiting for: $what");
	return 0;
}

sub wait_log
{
	my ($i, $re, $seconds) = @_;
	my $deadline = time + ($seconds // 30);
	while (time < $deadline)
	{
		return 1 if slurp("$tmp/agent$i.log") =~ $re;
		usleep(100_000);
	}
	diag("timed out waiting for agent $i to log $re");
	return 0;
}

sub invariants_ok
{
	my $what = shift;
	my $n = sql('SELECT count(*) FROM lagbid.check_invariants()');
	is($n, 0, "$what: check_invariants() is empty");
	diag(sql(q{SELECT string_agg(invariant || ': ' || detail, E'\n') FROM lagbid.check_invariants()})) if $n ne '0';
}

# free TCP ports on 127.0.0.1 for the three front proxies and the stand-in
sub free_port
{
	my $p = `python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"`;
	chomp $p;
	return $p;
}

# ---- the agents ----
my (%dir, %proxy, %h);
END
{
	for my $handle (values %h)
	{
		eval { $handle->kill_kill(grace => 3) if $handle->pumpable; };
	}
}
for my $i (1 .. 3)
{
	$dir{$i} = "$tmp/agent$i";
	$proxy{$i} = free_port();
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $agent, 'init', '--dir', $dir{$i}, '--conninfo',
			"host=$host port=$port dbname=postgres user=cp$i", '--region', 'eu-west',
			'--multiaddr', "/dns4/localhost/tcp/" . (4000 + $i), '--max-concurrent', '4' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(30));
	ok($ok, "agent $i: init") or diag("stdout: $out\nstderr: $err");
	my $conf = slurp("$dir{$i}/lagbid-agent.conf");
	$conf =~ s/^cpu_core_hour = .*$/cpu_core_hour = 1/m;
	$conf =~ s/^markup = .*$/markup = 1/m;
	$conf =~ s/^memory_gb_hour = .*$/memory_gb_hour = 0/m;
	$conf =~ s/^storage_gb_hour = .*$/storage_gb_hour = 0/m;
	$conf =~ s/^scan_interval_s = .*$/scan_interval_s = 1/m;
	$conf =~ s/^proxy_listen = .*$/proxy_listen = 127.0.0.1:$proxy{$i}/m;
	$conf =~ s/^probe_allow_private = .*$/probe_allow_private = on/m;
	$conf =~ s/^probe_timeout_ms = .*$/probe_timeout_ms = 1500/m;
	$conf =~ s/^grace_s = .*$/grace_s = 2/m;
	# B and C never bid on alice's spaces: they only probe
	$conf =~ s/^deny =.*$/deny = alice/m if $i > 1;
	like($conf, qr/^\[service\]$/m, "agent $i: init wrote a [service] section");
	open my $fh, '>', "$dir{$i}/lagbid-agent.conf" or die;
	print $fh $conf;
	close $fh;
}
sub start_agent
{
	my $i = shift;
	my $log = "$tmp/agent$i.log";
	$h{$i} = IPC::Run::start([ $agent, 'run', '--dir', $dir{$i} ], '<', \undef, '>>', $log, '2>>', $log);
	return $h{$i};
}
start_agent($_) for 1 .. 3;
ok(wait_for(q{SELECT count(*) = 3 FROM pg_stat_activity WHERE application_name = 'lagbid-agent'},
		'three agents connected', 20), 'three agents are connected');
for my $i (1 .. 3)
{
	my $p = $proxy{$i};
	ok(wait_log($i, qr/front proxy listening on 127\.0\.0\.1:$p/), "agent $i: front proxy listening");
}

# a listener on the host's loopback, standing for the market's port
my $mport = free_port();
my $listener = IPC::Run::start([ 'python3', '-c', "import socket, time\n"
	  . "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	  . "s.bind(('127.0.0.1', $mport)); s.listen(50); time.sleep(600)" ]);
$h{listener} = $listener;

# ---- 1. two service spaces ----
# the app: serves its directory; GET /attack tries the ports in $ATTACK from inside
my $app = <<'PY';
import http.server, os, socket, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path != "/attack":
            return super().do_GET()
        res = []
        for spec in os.environ.get("ATTACK", "").split(","):
            try:
                socket.create_connection(("127.0.0.1", int(spec)), 2).close()
                res.append("%s connected" % spec)
            except OSError as e:
                res.append("%s refused errno %s" % (spec, e.errno))
        body = ("\n".join(res) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
use MIME::Base64;
sub workload
{
	my ($port, $page, $attack) = @_;
	my $b = sub { my $s = encode_base64(shift, ''); return $s };
	return qq({"command": ["python3", "app.py", "$port"], "env": {"ATTACK": "$attack"}, )
	  . qq("inputs": [{"path": "app.py", "content_base64": ") . $b->($app) . qq("}, )
	  . qq({"path": "index.html", "content_base64": ") . $b->("<h1>$page</h1>\n") . qq("}, )
	  . qq({"path": "healthz", "content_base64": ") . $b->("ok\n") . qq("}], )
	  . qq("service": {"port": $port, "health_path": "/healthz", "expected_status": 200, "startup_timeout_s": 600}});
}
# 0.25 h: the reservation must outlast the spaces' 10-minute bidding window
my $s1 = sql("SELECT lagbid.create_space('alice', 'web', '{\"cpu\": 1}', 1, 2, 0.25, workload => '"
	  . workload(8000, 'hello-lagbid-space', "$mport,$proxy{1},$proxy{2},8001") . "'::jsonb, kind => 'service')");
my $s2 = sql("SELECT lagbid.create_space('alice', 'other', '{\"cpu\": 1}', 1, 2, 0.25, workload => '"
	  . workload(8001, 'the-other-lease', '') . "'::jsonb, kind => 'service')");
like($s1, qr/^\d+$/, "service space $s1 created");
my $task1 = sql("SELECT lagbid.trigger_space($s1)");
my $task2 = sql("SELECT lagbid.trigger_space($s2)");
ok(wait_for("SELECT count(*) = 2 FROM lagbid.bid WHERE task_id IN ($task1, $task2)", 'two bids'),
	'agent A bid on both service tasks (B and C deny the owner)');
# past the bidding window (10 min): the tick allocates
set_clock(601);
sql('SELECT lagbid.tick()');
ok(wait_for("SELECT count(*) = 2 FROM lagbid.lease WHERE task_id IN ($task1, $task2)", 'two leases'),
	'each task has a lease once allocated');
my ($lease1, $name1) = split /\|/, sql("SELECT id, name FROM lagbid.lease WHERE task_id = $task1");
my ($lease2, $name2) = split /\|/, sql("SELECT id, name FROM lagbid.lease WHERE task_id = $task2");
ok(wait_for("SELECT count(*) = 2 FROM lagbid.lease WHERE id IN ($lease1, $lease2) AND state = 'ready'",
		'both leases ready', 60), 'agent A started both apps and reported their endpoints: ready');
my $ep1 = sql("SELECT endpoint FROM lagbid.lease WHERE id = $lease1");
is($ep1, "http://$name1.localhost:$proxy{1}/", "the endpoint is http://NAME.localhost:PORT/ ($ep1)");
like(slurp("$tmp/agent1.log"), qr/lease $lease1 \($name1\) ready: endpoint \Q$ep1\E reported/,
	'the agent logged the report');

sub fetch
{
	my $url = shift;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'curl', '-s', '-m', '5', $url ], '>', \$out, '2>', \$err, IPC::Run::timeout(10));
	return $out;
}
# the owner's view: lagbid_api.space_status as the owner's login
$node->safe_psql('postgres', "CREATE ROLE alice LOGIN; GRANT lagbid_owner TO alice; SELECT lagbid.bind_owner_login('alice', 'alice');");
my $status_ep = $node->safe_psql('postgres', "SELECT endpoint FROM lagbid_api.space_status($s1) LIMIT 1",
	extra_params => [ '-U', 'alice' ]);
is($status_ep, $ep1, 'space_status shows the owner the endpoint');
like(fetch($status_ep), qr/hello-lagbid-space/, 'the owner fetches the page through the provider\'s proxy');
like(fetch("http://127.0.0.1:$proxy{1}/l/$name2/"), qr/the-other-lease/, 'the other app answers by path /l/NAME/');
invariants_ok('two leases ready');

# ---- 2. windows ----
# move the clock one window, tick, wait for the probes of the new window
sub run_window
{
	my $what = shift;
	set_clock($clock + 10);
	sql('SELECT lagbid.tick()');
	my $ok = wait_for(qq{SELECT count(*) > 0 AND count(*) FILTER (WHERE reported_at IS NULL) = 0
	                      FROM lagbid.probe WHERE window_end > lagbid.now() AND window_start <= lagbid.now()},
		"the probes of the window at $clock reported ($what)", 30);
	return $ok;
}
sub outcome
{
	my ($lease, $nth_last) = @_;
	return sql("SELECT outcome FROM lagbid.lease_window WHERE lease_id = $lease ORDER BY window_start DESC OFFSET "
		  . ($nth_last // 0) . " LIMIT 1");
}
ok(run_window('first'), 'B and C probed both leases in the first window');
ok(run_window('second'), 'and in the second');
is(outcome($lease1), 'up', 'a probed window of lease 1 is up');
is(outcome($lease2), 'up', 'a probed window of lease 2 is up');
is(sql(qq{SELECT count(*) FROM lagbid.probe WHERE lease_id = $lease1 AND ok AND signature IS NOT NULL
          AND provider_id IN (SELECT id FROM lagbid.provider WHERE node_id <> (SELECT node_id FROM lagbid.provider
          WHERE id = (SELECT provider_id FROM lagbid.lease WHERE id = $lease1)))}) > 0 ? 1 : 0, 1,
	'the successful probes came from the other agents, with the proxy\'s signature');
ok(sql("SELECT paid > 0 FROM lagbid.lease WHERE id = $lease1") eq 't', 'the provider is paid for the up windows');
like(slurp("$tmp/agent2.log"), qr/probe \d+: up \(status 200/, 'agent B logged its probes');
# the owner probes its own lease: the proxy signs for it too, and the market verifies
{
	my ($op, $oep, $once) = split /\|/, $node->safe_psql('postgres',
		"SELECT probe_id, endpoint, nonce FROM lagbid_api.probe_my_lease($s1)", extra_params => [ '-U', 'alice' ]);
	my ($hdr, $err) = ('', '');
	IPC::Run::run([ 'curl', '-s', '-m', '5', '-D', '-', '-o', '/dev/null', '-H', "X-Lagbid-Probe: $once", $oep ],
		'>', \$hdr, '2>', \$err, IPC::Run::timeout(10));
	my ($code) = $hdr =~ m{^HTTP/1\.1 (\d+)}m;
	my ($sig) = $hdr =~ /^X-Lagbid-Probe-Signature: (\S+)\r?$/mi;
	is($code, '200', 'the owner\'s probe is answered 200');
	my ($ret, $out, $perr) = $node->psql('postgres',
		"SELECT lagbid_api.report_probe($op, true, 200, 3.5, '" . ($sig // '') . "')", extra_params => [ '-U', 'alice' ]);
	is($ret, 0, 'the market accepts the owner\'s success: the proxy\'s signature verifies') or diag($perr);
	my ($op2, $oep2, $once2) = split /\|/, $node->safe_psql('postgres',
		"SELECT probe_id, endpoint, nonce FROM lagbid_api.probe_my_lease($s2)", extra_params => [ '-U', 'alice' ]);
	($ret, $out, $perr) = $node->psql('postgres',
		"SELECT lagbid_api.report_probe($op2, true, 200, 3.5, '" . ($sig // '') . "')", extra_params => [ '-U', 'alice' ]);
	isnt($ret, 0, 'control: the same signature does not prove a probe of another lease (another nonce)');
}

# ---- 3. the app against the host's loopback and the other lease ----
my $attack = fetch("http://127.0.0.1:$proxy{1}/l/$name1/attack");
ok(system("python3 -c \"import socket; socket.create_connection(('127.0.0.1', $mport), 2)\"") == 0,
	"control: the market's stand-in on 127.0.0.1:$mport is reachable from the host");
like($attack, qr/^$mport refused/m, "the app cannot reach the host's 127.0.0.1:$mport (the market's stand-in)");
my ($pa, $pb) = ($proxy{1}, $proxy{2});
like($attack, qr/^$pa refused/m, "the app cannot reach its own provider's front proxy (the way to every lease)");
like($attack, qr/^$pb refused/m, "the app cannot reach another agent's front proxy");
like($attack, qr/^8001 refused/m, "the app cannot reach the other lease's app port");
diag("the attack from inside: $attack");

# ---- 4. kill the app ----
# the app's process: a python3 app.py PORT whose parent is the sandbox's pid 1
sub app_pid
{
	my $port = shift;
	for my $p (glob '/proc/[0-9]*')
	{
		my $cmd = slurp("$p/cmdline");
		$cmd =~ s/\0/ /g;
		return (split m{/}, $p)[2] if $cmd =~ /^python3 app\.py $port\s*$/;
	}
	return undef;
}
my $pid = app_pid(8000);
ok(defined $pid, 'the app of lease 1 runs (pid ' . ($pid // 'none') . ')');
my $starts_before = () = slurp("$tmp/agent1.log") =~ /service $name1 started in the sandbox/g;
kill 'KILL', $pid if $pid;
ok(wait_log(1, qr/service $name1 started in the sandbox \(pid \d+, port 8000, start 2\)/, 20),
	'the killed app is started again');
my $deadline = time + 20;
usleep(200_000) while time < $deadline && fetch($ep1) !~ /hello-lagbid-space/;
like(fetch($ep1), qr/hello-lagbid-space/, 'the page answers again');
ok(run_window('after the restart'), 'a window after the restart');
ok(run_window('and the next'), 'and the next');
is(outcome($lease1, 0), 'up', 'the window of the restart is up');
is(outcome($lease1, 1), 'up', 'and the one before');

# ---- 5. SIGSTOP the other app ----
my $pid2 = app_pid(8001);
ok(defined $pid2, 'the app of lease 2 runs');
kill 'STOP', $pid2;
ok(run_window("lease 2 stopped, 1"), 'a window with lease 2 stopped');
ok(run_window("lease 2 stopped, 2"), 'a second');
is(outcome($lease2), 'down', 'its window is down');
is(sql("SELECT state FROM lagbid.lease WHERE id = $lease2"), 'degraded', 'lease 2 is degraded');
ok(sql("SELECT refunded > 0 FROM lagbid.lease WHERE id = $lease2") eq 't', 'the owner was refunded the down window');
is(sql(qq{SELECT count(*) FROM lagbid.probe WHERE lease_id = $lease2 AND reported_at IS NOT NULL AND NOT ok
          AND window_start >= (SELECT max(window_start) - interval '10 s' FROM lagbid.lease_window WHERE lease_id = $lease2)}) > 0 ? 1 : 0,
	1, 'its probes were reported failed');
is(outcome($lease1), 'up', 'lease 1 stays up meanwhile');
ok(run_window("lease 2 stopped, 3"), 'a third');
ok(run_window("lease 2 stopped, 4"), 'a fourth');
is(sql(qq{SELECT string_agg(to_state, ',' ORDER BY id) FROM lagbid.event WHERE entity = 'lease' AND entity_id = $lease2
          AND to_state IN ('ready', 'degraded', 'unstable')}), 'ready,degraded,unstable',
	'lease 2 went ready, degraded, then unstable at the third down window');
diag('lease 2 since: ' . sql(qq{SELECT string_agg(coalesce(from_state, '-') || '->' || to_state || ' (' || coalesce(reason, '') || ')', ', ' ORDER BY id)
                                 FROM lagbid.event WHERE entity = 'lease' AND entity_id = $lease2}));
is(sql("SELECT windows_down FROM lagbid.lease WHERE id = $lease2"), 3, 'three down windows');
kill 'CONT', $pid2;
# the market expires an unstable lease (its rest went back for a re-auction): A tears it down
ok(wait_for("SELECT state = 'torn_down' FROM lagbid.lease WHERE id = $lease2", 'lease 2 torn down', 30),
	'agent A tears the unstable lease down once the market ends it, and reports it');
ok(!defined app_pid(8001), 'no process of lease 2 is left');
invariants_ok('after lease 2 went unstable');

# ---- 6. kill -9 the agent and start it again ----
my $paid_before = sql("SELECT paid FROM lagbid.lease WHERE id = $lease1");
my $windows_before = sql("SELECT count(*) FROM lagbid.lease_window WHERE lease_id = $lease1");
$h{1}->signal('KILL');
$h{1}->finish;
$deadline = time + 10;
usleep(100_000) while time < $deadline && defined app_pid(8000);
ok(!defined app_pid(8000), 'the app died with the agent (its sandbox dies with its parent)');
start_agent(1);
ok(wait_log(1, qr/lease $lease1 \($name1, job \d+\) ready: its app runs here/, 30),
	'the restarted agent starts the live lease again from my_leases()');
$deadline = time + 30;
usleep(200_000) while time < $deadline && fetch($ep1) !~ /hello-lagbid-space/;
like(fetch($ep1), qr/hello-lagbid-space/, 'the same endpoint answers after the agent restart');
is(sql("SELECT state FROM lagbid.lease WHERE id = $lease1"), 'ready', 'the lease stayed ready');
is(sql("SELECT paid FROM lagbid.lease WHERE id = $lease1"), $paid_before, 'nothing was paid meanwhile');
ok(run_window('after the agent restart'), 'a window after the agent restart');
is(outcome($lease1), 'up', 'it is up');
is(sql(qq{SELECT count(*) = count(DISTINCT window_start) FROM lagbid.lease_window WHERE lease_id = $lease1}), 't',
	'each window is settled once');
is(sql(qq{SELECT l.paid = (SELECT sum(paid) FROM lagbid.lease_window WHERE lease_id = l.id) FROM lagbid.lease l WHERE l.id = $lease1}),
	't', 'what the lease was paid is the sum of its windows: nothing paid twice');

# ---- 7. extend ----
my $until1 = sql("SELECT extract(epoch FROM reserved_until)::bigint - $t0 FROM lagbid.lease WHERE id = $lease1");
sql("SELECT lagbid.extend_space($s1, 0.02)");
my $until2 = sql("SELECT extract(epoch FROM reserved_until)::bigint - $t0 FROM lagbid.lease WHERE id = $lease1");
is($until2 - $until1, 72, 'extend_space moves the lease\'s reserved_until by the hours');
ok(wait_log(1, qr/lease $lease1 \($name1\) extended: reserved until/, 30), 'the agent learns the new deadline');
set_clock($until1 + 5);
sql('SELECT lagbid.tick()');
is(sql("SELECT state FROM lagbid.lease WHERE id = $lease1"), 'ready', 'past its first deadline the lease is still ready');
like(fetch($ep1), qr/hello-lagbid-space/, 'and its page answers');

# ---- 8. expiry ----
$pid = app_pid(8000);
set_clock($until2 + 1);
sql('SELECT lagbid.tick()');
like(sql("SELECT state FROM lagbid.lease WHERE id = $lease1"), qr/^(expired|torn_down)$/, 'at reserved_until the lease expires');
ok(wait_for("SELECT state = 'torn_down' FROM lagbid.lease WHERE id = $lease1", 'lease 1 torn down', 30),
	'agent A tears it down and reports it');
like(slurp("$tmp/agent1.log"), qr/service $name1 torn down after [\d.]+ s: no process left/,
	'the agent proved no process of its sandbox is left');
ok(defined $pid && !kill(0, $pid), "the app's process ($pid) is gone");
ok(!defined app_pid(8000), 'no app of lease 1 runs');
isnt(fetch($ep1), '', 'the proxy still answers ...');
is(`curl -s -o /dev/null -w '%{http_code}' -m 5 $ep1`, '404', '... 404: the route is removed');
is(sql("SELECT state FROM lagbid.job WHERE id = (SELECT job_id FROM lagbid.lease WHERE id = $lease1)"), 'completed',
	'the job of a lease that expired normally is completed');

# ---- 9. money ----
is(sql(qq{SELECT l.paid + l.refunded + l.returned = l.taken FROM lagbid.lease l WHERE l.id = $lease1}), 't',
	'lease 1: paid + refunded + returned = what it took from escrow, to the unit');
is(sql(qq{SELECT count(*) FROM lagbid.lease l JOIN lagbid.task t ON t.id = l.task_id
          JOIN lagbid.account a ON a.id = t.escrow_account_id
          WHERE l.paid + l.refunded + l.returned + a.balance <> l.taken}), 0,
	'every lease: paid + refunded + returned + escrow left = taken');
invariants_ok('at the end');

# the agents stop cleanly; nothing of the apps outlives them
for my $i (1 .. 3)
{
	$h{$i}->signal('TERM');
	ok($h{$i}->finish, "agent $i stops on SIGTERM");
}
ok(!defined app_pid(8000) && !defined app_pid(8001), 'no app process is left after the agents stopped');
$listener->kill_kill;
done_testing();

# lagbid-agent against a real cluster: real agent processes (agent/), a
# real owner, real jobs in the bubblewrap sandbox.
#
#   1. init: key (0600), peer id (= lagbid.peer_id_from_ed25519 of the
#      key), detected resources, signed registration; init again is safe
#   2. three agents and a task with 3 replicas and a deterministic
#      workload: bid, run, upload, finalize; the leader's content is what
#      the workload prints; each agent is paid its ask x hours
#   3. a fourth provider (plain SQL) uploading a different result loses
#      the election and is not paid
#   4. declines are logged with their reason (region, price); a forged
#      push (owner on the deny list, made-up cheap terms) is decided on the
#      market's terms and gets no bid; a pushed task whose workload the
#      agents cannot run (an https input) is declined before any bid
#   5. kill -9 of an agent mid-job, then a restart: the job completes,
#      nothing is paid twice, no slot leaks
#   6. PostgreSQL restarted under running agents: they reconnect and carry on
#      (agent 3 with a multi-host conninfo whose first host is dead)
#   6b. hostile workloads: a real shared object under each loader
#      variable (refused, nothing runs on the host, the keys untouched); a
#      10,000-deep directory chain beside an honest job (the agent lives,
#      the chain is deleted); 760 MB of files and a /tmp filler in
#      storage_gb 0.5 tasks stopped with the reason beside an honest job
#   7. status; SIGTERM stops agents with exit status 0
#   8. SIGHUP reloads the config; a result over max_result_bytes goes to
#      result_dir and submit_result() with a file URI; SIGTERM mid-job
#      fails the job with "agent shutting down" after the grace period
# check_invariants() is empty after each step.  Every wait is bounded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd qw(abs_path);
use Time::HiRes qw(usleep time);

# the agent of this checkout when built, else the installed one
my $agent = -x 'agent/lagbid-agent' ? abs_path('agent/lagbid-agent') : 'lagbid-agent';
if (system("bwrap --unshare-all --ro-bind / / true >/dev/null 2>&1") != 0)
{
	plan skip_all => 'bubblewrap cannot create namespaces here';
}

my $node = PostgreSQL::Test::Cluster->new('agent');
$node->init;
$node->append_conf('postgresql.conf', "log_min_messages = warning\nmax_connections = 40\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION lagbid;
SELECT lagbid.deposit('alice', 100000, 'seed');
SELECT lagbid.deposit('mallory', 100000, 'seed-m');
});
for my $i (1 .. 4)
{
	$node->safe_psql('postgres', "CREATE ROLE cp$i LOGIN; GRANT lagbid_provider TO cp$i;");
}

my $tmp = $PostgreSQL::Test::Utils::tmp_check;
my $host = $node->host;
my $port = $node->port;
# agent 3 is given two hosts, the first one dead: libpq's multi-host
# conninfo (failover) is the agent's too
sub conninfo
{
	my $i = shift;
	return "host=$tmp/no-such-host,$host port=$port,$port dbname=postgres user=cp$i" if $i == 3;
	return "host=$host port=$port dbname=postgres user=cp$i";
}
sub sql { return $node->safe_psql('postgres', shift) }

# poll a query until it returns 't'; bounded
sub wait_for
{
	my ($sql, $what, $seconds) = @_;
	$seconds //= 30;
	my $deadline = time + $seconds;
	while (time < $deadline)
	{
		my $r = $node->safe_psql('postgres', $sql);
		return 1 if $r eq 't';
		usleep(100_000);
	}
	diag("timed out after $seconds s waiting for: $what");
	return 0;
}

sub slurp { my $f = shift; open my $fh, '<', $f or return ''; local $/; my $s = <$fh>; close $fh; return $s }

# ---- 1. init ----
my (%dir, %node_id, %provider_id);
for my $i (1 .. 3)
{
	$dir{$i} = "$tmp/agent$i";
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $agent, 'init', '--dir', $dir{$i}, '--conninfo', conninfo($i),
			'--region', 'eu-west', '--multiaddr', "/ip4/127.0.0.1/tcp/" . (4000 + $i),
			'--max-concurrent', '2' ], '>', \$out, '2>', \$err, IPC::Run::timeout(30));
	ok($ok, "agent $i: init succeeds") or diag("stdout: $out\nstderr: $err");
	($node_id{$i}) = $out =~ /^node id (\S+)$/m;
	($provider_id{$i}) = $out =~ /^registered as provider (\d+)/m;
	like($out, qr/^detected: \d+ cores, \d+ GB memory, \d+ GB free disk/m, "agent $i: init prints what it detected");
	ok(defined $provider_id{$i}, "agent $i: registered as provider " . ($provider_id{$i} // '?'));
}
{
	my $mode = (stat "$dir{1}/node.key")[2] & 07777;
	is(sprintf('%04o', $mode), '0600', 'the node key has mode 0600');
	# the peer id is the extension's derivation of the key's public half
	my $der = `openssl pkey -in $dir{1}/node.key -pubout -outform DER 2>/dev/null`;
	my $pub = unpack('H*', substr($der, -32));
	is(sql("SELECT lagbid.peer_id_from_ed25519('\\x$pub')"), $node_id{1},
		'the node id is lagbid.peer_id_from_ed25519 of the public key');
	is(sql("SELECT count(*) FROM lagbid.provider WHERE node_id = '$node_id{1}' AND region = 'eu-west'"), 1,
		'the provider row carries the node id and region');

	my ($out, $err) = ('', '');
	IPC::Run::run([ $agent, 'init', '--dir', $dir{1} ], '>', \$out, '2>', \$err, IPC::Run::timeout(30));
	my ($n1, $p1) = ($node_id{1}, $provider_id{1});
	like($out, qr/node key \S+ kept/, 'init again keeps the key');
	like($out, qr/^node id \Q$n1\E$/m, 'init again: same node id');
	like($out, qr/^registered as provider \Q$p1\E /m, 'init again re-registers the same provider');
}

# deterministic asks: cpu 1 at 2.00, 2.50, 3.00 per core-hour; scans every 2 s
for my $i (1 .. 3)
{
	my $conf = slurp("$dir{$i}/lagbid-agent.conf");
	my $rate = sprintf('%.2f', 1.5 + 0.5 * $i);
	$conf =~ s/^cpu_core_hour = .*$/cpu_core_hour = $rate/m;
	$conf =~ s/^markup = .*$/markup = 1/m;
	$conf =~ s/^memory_gb_hour = .*$/memory_gb_hour = 0/m;
	$conf =~ s/^storage_gb_hour = .*$/storage_gb_hour = 0/m;
	$conf =~ s/^scan_interval_s = .*$/scan_interval_s = 2/m;
	$conf =~ s/^grace_period_s = .*$/grace_period_s = 5/m;
	$conf =~ s/^deny =.*$/deny = mallory/m;
	open my $fh, '>', "$dir{$i}/lagbid-agent.conf" or die;
	print $fh $conf;
	close $fh;
}

my %h;
# whatever happens, no agent outlives the test
END
{
	for my $handle (values %h)
	{
		eval { $handle->kill_kill(grace => 2) if $handle->pumpable; };
	}
}
sub start_agent
{
	my $i = shift;
	my $log = "$tmp/agent$i.log";
	$h{$i} = IPC::Run::start([ $agent, 'run', '--dir', $dir{$i} ], '<', \undef, '>>', $log, '2>>', $log);
	return $h{$i};
}
sub agent_log { return slurp("$tmp/agent$_[0].log") }
start_agent($_) for 1 .. 3;
ok(wait_for(q{SELECT count(*) = 3 FROM pg_stat_activity WHERE application_name = 'lagbid-agent'},
		'three agents connected', 20), 'three agents are connected');

sub publish
{
	my ($workload, %o) = @_;
	my $replicas = $o{replicas} // 1;
	my $bid_limit = $o{bid_limit} // $replicas;
	my $region = defined $o{region} ? "'$o{region}'" : 'NULL';
	my $pmax = $o{price_max} // 5;
	return sql(qq{SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, $pmax, 1, region => $region,
	              replicas => $replicas, bid_limit => $bid_limit, workload => '$workload'::jsonb)});
}

sub invariants_ok
{
	my $what = shift;
	my $n = sql('SELECT count(*) FROM lagbid.check_invariants()');
	is($n, 0, "$what: check_invariants() is empty");
	diag(sql(q{SELECT string_agg(invariant || ': ' || detail, E'\n') FROM lagbid.check_invariants()})) if $n ne '0';
}

# ---- 2. three replicas ----
my $t1 = publish('{"command": ["sh", "-c", "echo hello-lagbid"]}', replicas => 3);
ok(wait_for("SELECT count(*) = 3 FROM lagbid.job WHERE task_id = $t1 AND state = 'submitted'",
		'three results submitted'), 'three agents bid, won, ran and uploaded');
like(agent_log(1), qr/LOG:  bid \d+ placed on task $t1 at 2\.00\/h \(cost 2\.0000\/h/, 'agent 1 logged its bid with price and cost');
like(agent_log(2), qr/job \d+ of task $t1 result uploaded \(13 bytes, sha256:/, 'agent 2 logged its upload');
my $leader = sql("SELECT lagbid.finalize($t1)");
like($leader, qr/^\d+$/, "task $t1 finalized, leader job $leader");
is(sql("SELECT state FROM lagbid.task WHERE id = $t1"), 'completed', 'the task is completed');
is(sql("SELECT rtrim(convert_from(lagbid.task_result($t1), 'UTF8'), E'\\n')"), "hello-lagbid",
	"the leader's content is what the workload printed");
is(sql("SELECT encode(lagbid.task_result($t1), 'hex')"), unpack('H*', "hello-lagbid\n"), '... byte for byte');
is(sql(qq{SELECT count(*) FROM lagbid.job j JOIN lagbid.bid b ON b.id = j.bid_id JOIN lagbid.task t ON t.id = j.task_id
          WHERE j.task_id = $t1 AND j.state = 'completed' AND j.paid = b.price * t.duration_hours}), 3,
	'each agent is paid its ask x hours');
is(sql(qq{SELECT string_agg(b.price::text, ',' ORDER BY b.price) FROM lagbid.bid b WHERE b.task_id = $t1}),
	'2.00,2.50,3.00', 'the asks came from each agent\'s rates');
for my $i (1 .. 3)
{
	is(sql("SELECT lagbid.balance('$node_id{$i}', 'provider') = (SELECT b.price * t.duration_hours FROM lagbid.bid b JOIN lagbid.task t ON t.id = b.task_id JOIN lagbid.provider p ON p.id = b.provider_id WHERE b.task_id = $t1 AND p.node_id = '$node_id{$i}')"),
		't', "agent $i: its balance is its ask x hours");
}
invariants_ok('after three replicas');

# ---- 3. a fourth provider that uploads a different result ----
my $node4 = sql("SELECT lagbid.peer_id_from_ed25519(sha256('fourth'::bytea))");
my $p4 = sql(qq{SELECT lagbid.register_provider('$node4', '{/ip4/127.0.0.1/tcp/4004}', 'eu-west', '{"cpu": 4}', 2)});
sql("SELECT lagbid.bind_login('$node4', 'cp4')");
my $t2 = sql(qq{SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 5, 1, replicas => 4, bid_limit => 4,
              workload => '{"command": ["sh", "-c", "echo agreed"]}'::jsonb, open => false)});
sub as_cp4 { return $node->safe_psql('postgres', shift, extra_params => [ '-U', 'cp4' ]) }
sql("SELECT lagbid.open_bidding($t2)");
my $bid4 = as_cp4("SELECT lagbid_api.place_bid($t2, 1.00)");
like($bid4, qr/^\d+$/, 'the fourth provider bids through lagbid_api as login cp4');
ok(wait_for("SELECT count(*) = 4 FROM lagbid.job WHERE task_id = $t2", 'four jobs allocated'),
	'the three agents bid too and the task is allocated to four');
my $job4 = sql("SELECT id FROM lagbid.job WHERE task_id = $t2 AND provider_id = $p4");
like(as_cp4("SELECT lagbid_api.upload_result($job4, convert_to('doctored', 'UTF8'))"), qr/^sha256:[0-9a-f]{64}$/,
	'the fourth provider uploads a different result');
ok(wait_for("SELECT count(*) = 4 FROM lagbid.job WHERE task_id = $t2 AND state = 'submitted'", 'four results'),
	'the agents uploaded theirs');
sql("SELECT lagbid.finalize($t2)");
is(sql("SELECT rtrim(convert_from(lagbid.task_result($t2), 'UTF8'), E'\\n')"), 'agreed', 'the majority result leads');
is(sql("SELECT state || ',' || is_leader || ',' || coalesce(paid, 0) FROM lagbid.job WHERE id = $job4"), 'failed,false,0',
	'the fourth provider lost the election and was not paid');
is(sql("SELECT lagbid.balance('$node4', 'provider')"), '0', 'its balance is zero');
invariants_ok('after the disagreeing provider');

# ---- 4. declines ----
my $t_region = publish('{"command": ["true"]}', region => 'us');
my $t_price = publish('{"command": ["true"]}', price_max => 1.5);
ok(wait_for("SELECT true", 'noop', 1), 'declines published');
my $deadline = time + 10;
usleep(200_000) until time > $deadline || (agent_log(3) =~ /not open to this provider in the market: ([\d, ]*, )?$t_region\b/ && agent_log(3) =~ /task $t_price declined \(price\)/);
# the market lists a task only to the providers it is open to: the push of a
# task of another region is read back, and the market's answer is the reason
like(agent_log(3), qr/LOG:  \d+ pushed task\(s\) not open to this provider in the market: ([\d, ]*, )?$t_region\b/,
	'a task of another region: the push is read back, and the market does not list it');
like(agent_log(3), qr/LOG:  task $t_price declined \(price\): cost 3\.0000\/h is above price_max 1\.5/,
	'a task paying less than the cost is declined with its reason');
sql("SELECT lagbid.cancel_task($t_region); SELECT lagbid.cancel_task($t_price)");

# ---- 4b. a forged push (issue 19, defect 3) and a workload the agents cannot run (defect 9) ----
# mallory is on every agent's deny list and pays 0.2/h for a task that costs
# them 2.00/h and more; it publishes closed, then in one transaction sends a
# push with made-up terms (owner alice, no resources, 0.01/h) and opens
# bidding.  A push is only a hint: the agents read the market's terms back.
{
	my $tf = sql(qq{SELECT lagbid.publish_task('mallory', '{"cpu": 1}', 0.01, 0.2, 1,
	                workload => '{"command": ["true"]}'::jsonb, open => false)});
	sql(qq{BEGIN;
	       SELECT pg_notify('lagbid_tasks', '{"task_id":$tf,"owner":"alice","resources":{},"price_min":0.01,"price_max":0.01}');
	       SELECT lagbid.open_bidding($tf);
	       COMMIT;});
	# and a batch push naming it again among ids that do not exist
	sql(qq{SELECT pg_notify('lagbid_tasks', '{"task_ids":[$tf, 999999, 9223372036854775807],"owner":"alice","price_max":0.01}')});
	my $deadline = time + 15;
	usleep(100_000) until time > $deadline
	  || 3 == grep { agent_log($_) =~ /task $tf declined \(owner\): owner "mallory" is denied/ } 1 .. 3;
	for my $i (1 .. 3)
	{
		like(agent_log($i), qr/LOG:  task $tf declined \(owner\): owner "mallory" is denied/,
			"agent $i: the forged push is decided on the market's terms (owner mallory, denied)");
	}
	is(sql("SELECT count(*) FROM lagbid.bid WHERE task_id = $tf"), 0, 'no agent bid on the forged terms');
	unlike(join('', map { agent_log($_) } 1 .. 3), qr/bid \d+ placed on task $tf /, '... and none logged a bid on it');
	sql("SELECT lagbid.cancel_task($tf)");

	# an https input: valid for the market, not fetchable by these agents;
	# it arrives by push, and is declined on its workload before any bid
	my $th = publish(q{{"command": ["true"], "inputs": [{"path": "x", "uri": "https://example.org/x", "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}});
	$deadline = time + 15;
	usleep(100_000) until time > $deadline
	  || 3 == grep { agent_log($_) =~ /task $th declined \(workload\)/ } 1 .. 3;
	for my $i (1 .. 3)
	{
		like(agent_log($i), qr/LOG:  task $th declined \(workload\): workload input "x" needs a uri this agent does not fetch/,
			"agent $i: a pushed task's workload is read and checked before a bid");
	}
	is(sql("SELECT count(*) FROM lagbid.bid WHERE task_id = $th"), 0, 'no bid on a workload the agents cannot run');
	sql("SELECT lagbid.cancel_task($th)");
	invariants_ok('after the forged push');
}

# ---- 5. kill -9 mid-job, then restart ----
my $t3 = publish('{"command": ["sh", "-c", "sleep 3; echo slow-result"], "timeout_s": 60}');
ok(wait_for("SELECT count(*) = 1 FROM lagbid.job WHERE task_id = $t3 AND state = 'processing'", 'job processing'),
	'a slow job is allocated');
my $victim_node = sql("SELECT p.node_id FROM lagbid.job j JOIN lagbid.provider p ON p.id = j.provider_id WHERE j.task_id = $t3");
my ($victim) = grep { $node_id{$_} eq $victim_node } 1 .. 3;
my $job3 = sql("SELECT id FROM lagbid.job WHERE task_id = $t3");
$deadline = time + 10;
usleep(100_000) until time > $deadline || agent_log($victim) =~ /job $job3 of task $t3 started in the sandbox/;
like(agent_log($victim), qr/job $job3 of task $t3 started in the sandbox/, "agent $victim started job $job3");
my $pid = $h{$victim}->{KIDS}[0]{PID};
ok(kill('KILL', $pid), "kill -9 of agent $victim (pid $pid) mid-job");
$h{$victim}->finish;
is(sql("SELECT state FROM lagbid.job WHERE id = $job3"), 'processing', 'the job is still processing in the market');
start_agent($victim);
ok(wait_for("SELECT state = 'submitted' FROM lagbid.job WHERE id = $job3", 'job re-run and submitted', 30),
	'after the restart the agent re-ran the job and submitted it');
like(agent_log($victim), qr/job $job3 of task $t3 started in the sandbox.*job $job3 of task $t3 started in the sandbox/s,
	'the restarted agent found the interrupted job in my_jobs() and ran it again');
sql("SELECT lagbid.finalize($t3)");
is(sql("SELECT rtrim(convert_from(lagbid.task_result($t3), 'UTF8'), E'\\n')"), 'slow-result', 'its result leads');
is(sql(qq{SELECT count(*) FROM lagbid.job j JOIN lagbid.bid b ON b.id = j.bid_id WHERE j.id = $job3 AND j.state = 'completed' AND j.paid = b.price}),
	1, 'the job is completed and paid once (ask x 1 hour)');
is(sql(qq{SELECT count(*) FROM lagbid.job WHERE task_id = $t3}), 1, 'no second job for the task');
is(sql(qq{SELECT count(*) FROM lagbid.provider p WHERE p.slots_used <>
          (SELECT count(*) FROM lagbid.bid b WHERE b.provider_id = p.id AND b.state = 'open')
        + (SELECT count(*) FROM lagbid.job j WHERE j.provider_id = p.id AND j.state IN ('processing', 'submitted'))}),
	0, 'no slot leaks: every provider\'s slots_used matches its open bids and live jobs');
invariants_ok('after kill -9 and restart');

# ---- 6. PostgreSQL restarts under running agents ----
$node->restart;
ok(wait_for(q{SELECT count(*) = 3 FROM pg_stat_activity WHERE application_name = 'lagbid-agent'},
		'agents reconnected', 30), 'the three agents reconnected after the restart');
my $t4 = publish('{"command": ["sh", "-c", "echo after-restart"]}', replicas => 3);
ok(wait_for("SELECT count(*) = 3 FROM lagbid.job WHERE task_id = $t4 AND state = 'submitted'", 'three results after restart'),
	'they carry on: bid, run and upload after the restart');
sql("SELECT lagbid.finalize($t4)");
is(sql("SELECT rtrim(convert_from(lagbid.task_result($t4), 'UTF8'), E'\\n')"), 'after-restart', 'the task completes');
like(agent_log(1), qr/WARNING:  lost the market connection.*LOG:  connected to the market/s,
	'agent 1 logged the lost connection and the reconnect');
like(agent_log(3), qr/LOG:  connected to the market at \Q$host\E:$port as "cp3" after a disconnection/,
	'agent 3 reconnected through the second host of its conninfo');
invariants_ok('after the PostgreSQL restart');

# ---- 6b. hostile workloads against real agents (issue 19, defects 1, 4, 5) ----
# A real shared object whose constructor copies every agent's node key to
# a file on the host, appends to the keys and notes in /work that it ran.
# The market is made to carry it (the task row is rewritten behind
# publish_task's back, as a hostile market or a missed rule would): each
# loader variable that loads code is refused by the agent, and nothing
# ran on the host.
my $hostmark = "$tmp/host-marker";
my %keysum;
{
	my $reads = join "\n", map {
		qq{\tfd = open("$dir{$_}/node.key", O_RDONLY); if (fd >= 0) { n = (int) read(fd, key, sizeof(key)); close(fd); if (n > 0 && out >= 0) write(out, key, n); }
\tfd = open("$dir{$_}/node.key", O_WRONLY | O_APPEND); if (fd >= 0) { write(fd, "x", 1); close(fd); }}
	} 1 .. 3;
	open my $fh, '>', "$tmp/evil.c" or die;
	print $fh <<"EOF";
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
static void __attribute__((constructor)) grab(void)
{
	char key[512];
	int fd, n = -1, out = open("$hostmark", O_WRONLY | O_CREAT | O_APPEND, 0644);
$reads
	if (out >= 0) close(out);
	fd = open("/work/ran-inside", O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) { dprintf(fd, "pid %d key %d\\n", (int) getpid(), n); close(fd); }
}
unsigned int la_version(unsigned int v) { return v; }
int gconv_init(void *step) { (void) step; return 0; }
EOF
	close $fh;
}
ok(system("cc -shared -fPIC -o $tmp/evil.so $tmp/evil.c") == 0, 'the attacking shared object builds');
{
	# control: on the host it does what it says
	local $ENV{LD_PRELOAD} = "$tmp/evil.so";
	system('/bin/true');
}
like(slurp($hostmark), qr/PRIVATE KEY/, 'control: evil.so loaded on the host copies a node key');
unlink $hostmark;
# the control appended to the keys: put them back
for my $i (1 .. 3)
{
	my $k = slurp("$dir{$i}/node.key");
	$k =~ s/x+\z//;
	open my $fh, '>', "$dir{$i}/node.key" or die;
	print $fh $k;
	close $fh;
	$keysum{$i} = `sha256sum $dir{$i}/node.key`;
}
{
	my $so64 = `base64 -w0 $tmp/evil.so`;
	my $modules = `printf 'module EVIL// INTERNAL evil 1\\n' | base64 -w0`;
	my $inputs = qq{[{"path": "evil.so", "content_base64": "$so64"}, {"path": "lib/libselinux.so.1", "content_base64": "$so64"}, }
	  . qq{{"path": "lib/libcap.so.2", "content_base64": "$so64"}, {"path": "gconv/evil.so", "content_base64": "$so64"}, }
	  . qq{{"path": "gconv/gconv-modules", "content_base64": "$modules"}]};
	for my $var ('LD_PRELOAD=/work/evil.so', 'LD_AUDIT=/work/evil.so', 'LD_LIBRARY_PATH=/work/lib', 'GCONV_PATH=/work/gconv')
	{
		my ($name, $value) = split /=/, $var, 2;
		my $t = sql(qq{SELECT lagbid.publish_task('alice', '{"cpu": 1}', 1, 5, 1, replicas => 1, bid_limit => 1,
		               workload => '{"command": ["true"]}'::jsonb, open => false)});
		# 0.4 stores bodies by digest: the row names a body the market never validated
		sql(qq{WITH w AS (SELECT '{"command": ["sh", "-c", "iconv -f EVIL -t UTF-8 </dev/null; echo ran"], "inputs": $inputs, "env": {"$name": "$value"}}'::jsonb AS body),
		            d AS (SELECT body, encode(sha256(convert_to(body::text, 'UTF8')), 'hex') AS sha256, octet_length(body::text) AS bytes FROM w),
		            i AS (INSERT INTO lagbid.workload_body (sha256, body, bytes) SELECT sha256, body, bytes FROM d ON CONFLICT (sha256) DO NOTHING)
		       UPDATE lagbid.task t SET workload_sha256 = d.sha256, workload_bytes = d.bytes FROM d WHERE t.id = $t});
		sql("SELECT lagbid.open_bidding($t)");
		my $deadline = time + 30;
		my $outcome = '';
		while (time < $deadline)
		{
			$outcome = sql("SELECT state || ': ' || coalesce(reason, '') FROM lagbid.job WHERE task_id = $t AND state IN ('failed', 'submitted', 'completed')");
			last if $outcome ne '';
			last if join('', map { agent_log($_) } 1 .. 3) =~ /task $t declined \(workload\)/;
			usleep(100_000);
		}
		ok($outcome =~ /^failed: .*"\Q$name\E".*refused/ || ($outcome eq '' && join('', map { agent_log($_) } 1 .. 3) =~ /task $t declined \(workload\)/),
			"a task whose workload sets $name is refused by the agent: " . ($outcome || 'declined'));
		ok(!-e $hostmark, "... nothing of evil.so ran on the host");
		is(join('', map { `sha256sum $dir{$_}/node.key` } 1 .. 3), join('', map { $keysum{$_} } 1 .. 3), '... every node key is untouched');
		eval { sql("SELECT lagbid.cancel_task($t)") } if sql("SELECT state FROM lagbid.task WHERE id = $t") eq 'open';
	}
}

# a 10,000-deep directory chain and an honest job at once on one agent
# (the three agents bid, agent 1 asks least and has two slots): the agent
# lives, the honest job completes, the chain is deleted
sub publish_res
{
	my ($resources, $workload, $bid_limit) = @_;
	$bid_limit //= 1;
	return sql(qq{SELECT lagbid.publish_task('alice', '$resources', 1, 5, 1, replicas => 1, bid_limit => $bid_limit,
	              workload => '$workload'::jsonb)});
}
my $pid1 = $h{1}->{KIDS}[0]{PID};
my $t_deep = publish_res('{"cpu": 1}', q{{"command": ["python3", "-c", "import os\nfor i in range(10000):\n    os.mkdir(\"a\"); os.chdir(\"a\")\nprint(\"deep\")"], "timeout_s": 900}}, 3);
my $t_honest = publish_res('{"cpu": 1}', '{"command": ["sh", "-c", "sleep 2; echo honest"]}', 3);
ok(wait_for("SELECT count(*) = 2 FROM lagbid.job j JOIN lagbid.provider p ON p.id = j.provider_id WHERE j.task_id IN ($t_deep, $t_honest) AND p.node_id = '$node_id{1}'",
		'both jobs on agent 1', 30), 'agent 1 won the 10,000-deep chain and the honest job');
ok(wait_for("SELECT state = 'submitted' FROM lagbid.job WHERE task_id = $t_honest", 'honest job submitted', 60),
	'the honest job completes beside the chain');
ok(wait_for("SELECT state = 'submitted' FROM lagbid.job WHERE task_id = $t_deep", 'chain job submitted', 600),
	'the chain job ends and reports');
ok(kill(0, $pid1) && $h{1}->pumpable, "agent 1 (pid $pid1) is alive");
{
	my $deadline = time + 600;
	my @left;
	while (time < $deadline)
	{
		opendir my $d, "$dir{1}/jobs" or last;
		@left = grep { !/^\.\.?$/ } readdir $d;
		closedir $d;
		last unless @left;
		sleep 1;
	}
	is(scalar(@left), 0, "agent 1's work directory is empty again (@left)");
}
sql("SELECT lagbid.finalize($_)") for ($t_deep, $t_honest);
is(sql("SELECT rtrim(convert_from(lagbid.task_result($t_honest), 'UTF8'), E'\\n')"), 'honest', 'the honest result leads');
unlike(agent_log(1), qr/^\S+ \S+ UTC \[\d+\] FATAL:|Segmentation|stack smashing|AddressSanitizer/m, 'agent 1 logged no crash');

# disk: 40 files of 19 MB, and a /tmp filler, each in a storage_gb 0.5
# task, beside an honest job
my $t_disk = publish_res('{"cpu": 1, "storage_gb": 0.5}',
	'{"command": ["sh", "-c", "for i in $(seq 40); do head -c 19000000 /dev/zero > f$i; done; sleep 100"], "timeout_s": 120}');
my $t_tmp = publish_res('{"cpu": 1, "storage_gb": 0.5}',
	'{"command": ["sh", "-c", "for i in 1 2 3 4; do head -c 200000000 /dev/zero > /tmp/fill$i; done; sleep 100"], "timeout_s": 120}');
my $t_ok = publish_res('{"cpu": 1}', '{"command": ["sh", "-c", "sleep 3; echo still-honest"]}');
ok(wait_for("SELECT state = 'failed' FROM lagbid.job WHERE task_id = $t_disk", 'disk job failed', 60),
	'the job writing 760 MB into storage_gb 0.5 is stopped');
like(sql("SELECT reason FROM lagbid.job WHERE task_id = $t_disk"),
	qr/^disk limit exceeded: 0\.\d\d GB > storage_gb 0\.5 \(work directory/, '... with the reason');
ok(wait_for("SELECT state = 'failed' FROM lagbid.job WHERE task_id = $t_tmp", 'tmp job failed', 60),
	'the job filling /tmp past storage_gb 0.5 is stopped');
like(sql("SELECT reason FROM lagbid.job WHERE task_id = $t_tmp"),
	qr/^disk limit exceeded: 0\.5\d GB > storage_gb 0\.5 \(work directory 0\.00 GB, tmpfs 0\.5/, '... with the reason');
ok(wait_for("SELECT state = 'submitted' FROM lagbid.job WHERE task_id = $t_ok", 'honest job submitted', 60),
	'the honest job beside them completes');
sql("SELECT lagbid.finalize($t_ok)");
is(sql("SELECT rtrim(convert_from(lagbid.task_result($t_ok), 'UTF8'), E'\\n')"), 'still-honest', '... with its result');
ok((grep { kill(0, $h{$_}->{KIDS}[0]{PID}) } 1 .. 3) == 3, 'the three agents are alive');
ok(!-e $hostmark, 'nothing ran on the host at any point');
invariants_ok('after the hostile workloads');

# ---- 7. status and SIGTERM ----
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ $agent, 'status', '--dir', $dir{3} ], '>', \$out, '2>', \$err, IPC::Run::timeout(30));
	my $n3 = $node_id{3};
	like($out, qr/^node id \Q$n3\E$/m, 'status: identity');
	like($out, qr/^agent running \(pid \d+\)$/m, 'status: the agent runs');
	like($out, qr/^slots used \d+ of 2 /m, 'status: slots used and limit');
	like($out, qr/^balance \d/m, 'status: earnings');
	like($out, qr/^paid vs expected .* 0 job\(s\) differ$/m, 'status: paid matches price x hours');
	like($out, qr/^  price +1$/m, 'status: declines by reason in the last hour');
	like($out, qr/^  (?:owner|market) +[1-9]\d*$/m, 'status: the forged push counts as a decline (owner, or market when the read-back came before open_bidding committed)');
}
for my $i (1 .. 2)
{
	kill 'TERM', $h{$i}->{KIDS}[0]{PID};
	my $ok = eval { $h{$i}->finish; 1 };
	is($ok && $h{$i}->result(0), 0, "agent $i exits 0 on SIGTERM");
}
like(agent_log(2), qr/LOG:  lagbid-agent stopped/, 'the stop is logged');

# ---- 8. SIGHUP, a result over the cap, SIGTERM mid-job (agent 3 alone) ----
{
	my $conf = slurp("$dir{3}/lagbid-agent.conf");
	$conf =~ s/^max_result_bytes = .*$/max_result_bytes = 8/m;
	open my $fh, '>', "$dir{3}/lagbid-agent.conf" or die;
	print $fh $conf;
	close $fh;
	kill 'HUP', $h{3}->{KIDS}[0]{PID};
	my $deadline = time + 10;
	usleep(100_000) until time > $deadline || agent_log(3) =~ /setting "jobs.max_result_bytes" changed from 1048576 to 8/;
	like(agent_log(3), qr/LOG:  setting "jobs.max_result_bytes" changed from 1048576 to 8/, 'SIGHUP reloads the config and logs what changed');
}
my $t5 = publish('{"command": ["sh", "-c", "echo over-the-cap"]}');
ok(wait_for("SELECT state = 'submitted' FROM lagbid.job WHERE task_id = $t5", 'over-cap result submitted'),
	'a result over max_result_bytes is submitted');
my ($uri, $hash) = split /\|/, sql("SELECT result_uri || '|' || result_hash FROM lagbid.job WHERE task_id = $t5");
like($uri, qr{^file:///}, "... as a file URI ($uri)");
(my $file = $uri) =~ s{^file://}{};
is(slurp($file), "over-the-cap\n", 'the file holds the output');
is($hash, 'sha256:' . sql("SELECT encode(sha256(convert_to(E'over-the-cap\\n', 'UTF8')), 'hex')"),
	'the submitted hash is the sha256 of the output');

sql("SELECT lagbid.finalize($t5)");    # its slot frees

# capacity: agent 3 alone has 2 slots; a third task is declined for
# capacity, and bid on once a finalized task frees a slot
my @tc = map { publish('{"command": ["sh", "-c", "sleep 1; echo cap"]}') } 1 .. 3;
my $tc_list = join ',', @tc;
my $tc_alt = join '|', @tc;
ok(wait_for("SELECT count(*) = 2 FROM lagbid.bid WHERE task_id IN ($tc_list)", 'two bids'), 'agent 3 bids on two tasks');
{
	my $deadline = time + 10;
	usleep(100_000) until time > $deadline || agent_log(3) =~ /declined \(capacity\): all 2 slots are taken/;
}
like(agent_log(3), qr/LOG:  task ($tc_alt) declined \(capacity\): all 2 slots are taken/, 'the third is declined for capacity');
is(sql("SELECT count(*) FROM lagbid.provider WHERE node_id = '$node_id{3}' AND slots_used <= 2"), 1, 'never above its limit');
ok(wait_for("SELECT count(*) = 2 FROM lagbid.job WHERE task_id IN ($tc_list) AND state = 'submitted'", 'two submitted'), 'two jobs submitted');
sql("SELECT lagbid.finalize(task_id) FROM lagbid.job WHERE task_id IN ($tc_list) AND state = 'submitted'");
ok(wait_for("SELECT count(*) = 3 FROM lagbid.job WHERE task_id IN ($tc_list) AND state IN ('submitted', 'completed')", 'third submitted'),
	'once a slot frees, the task declined for capacity is bid on and run');
# the look that a freed slot triggers is logged; on a loaded machine the
# periodic scan (every 2 s here) can get there first, and then the task is
# no longer declined when the slot frees: either way it was looked at again
like(agent_log(3), qr/LOG:  a slot is free \(\d of 2 used\): looking again at 1 task\(s\) declined for capacity|LOG:  bid \d+ placed on task ($tc_alt) at [\d.]+\/h \(cost [\d.]+\/h, from scan/,
	'the second look is logged (the slot-freed look, or the periodic scan that came first)');
sql("SELECT lagbid.finalize(task_id) FROM lagbid.job WHERE task_id IN ($tc_list) AND state = 'submitted'");

my $t6 = publish('{"command": ["sleep", "60"]}');
ok(wait_for("SELECT count(*) = 1 FROM lagbid.job WHERE task_id = $t6 AND state = 'processing'", 'long job'), 'a long job runs');
{
	my $deadline = time + 10;
	usleep(100_000) until time > $deadline || agent_log(3) =~ /of task $t6 started in the sandbox/;
}
my $t0 = time;
kill 'TERM', $h{3}->{KIDS}[0]{PID};
my $ok3 = eval { $h{3}->finish; 1 };
is($ok3 && $h{3}->result(0), 0, 'agent 3 exits 0 on SIGTERM with a job running');
cmp_ok(time - $t0, '<', 15, 'within its grace period (5 s) and a little');
is(sql("SELECT state || ': ' || reason FROM lagbid.job WHERE task_id = $t6"), 'failed: agent shutting down',
	'the unfinished job is failed with reason "agent shutting down"');
is(sql(q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'}), 0, 'no agent is left connected');
invariants_ok('at the end');

$node->stop;
done_testing();

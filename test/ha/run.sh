#!/usr/bin/env bash
# lagbid high-availability test (make ha-test).
#
# Builds a primary and a synchronous standby managed by Patroni with a one-node
# etcd, all on loopback:
#
#   etcd      client 127.0.0.1:23790, peer 127.0.0.1:23800
#   node1     postgres 127.0.0.1:55640, Patroni REST 127.0.0.1:28008
#   node2     postgres 127.0.0.1:55641, Patroni REST 127.0.0.1:28009
#
# with pg_cron preloaded (cron.database_name = market) and synchronous_mode in
# the DCS.  It creates the market (pg_cron, lagbid, the tick scheduled), runs a
# bid load whose client records every acknowledged bid, SIGKILLs the primary's
# Patroni and postmaster in the middle of it, waits for Patroni to promote the
# standby, and checks on the new primary that every acknowledged bid survived,
# that the market is consistent and that the tick works there; then restarts
# the old node, which rejoins as a replica (Patroni rewinds it), and checks
# that the tick does nothing there and pg_cron runs no job on it.
#
# Output is TAP.  Needs root (apt-get, and PostgreSQL, etcd and Patroni run
# as user postgres).  All data lives under /tmp/lagbid-ha.$UID (kept after the
# run for diagnosis, removed by the next run); every process started here is
# stopped on exit.
#
# Environment: HA_SKIP_INSTALL=1 skips installing lagbid (make install);
# HA_LOAD_SECONDS (default 30), HA_KILL_AFTER (default 8), HA_THREADS (4);
# HA_BENCH=1 also measures place_bid with pgbench on the primary before the
# failover (HA_BENCH_SECONDS, default 20, HA_BENCH_CLIENTS, default 16), with
# the synchronous standby and with synchronous_commit = local.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# PG_CONFIG's installation (its bindir first on PATH); a checkout with
# LAGBID_STAGE set (parallel helpers) gets its own directory and ports
. "$root/scripts/lib.sh"
slot=$(lagbid_slot)
PY=/usr/bin/python3
if [ "$slot" = 0 ]; then
	BASE=/tmp/lagbid-ha.$(id -u)
	ETCD_CLIENT=23790
	ETCD_PEER=23800
	PG_PORT=([1]=55640 [2]=55641)
	REST_PORT=([1]=28008 [2]=28009)
else
	BASE=/tmp/lagbid-ha.$(id -u).$slot
	ETCD_CLIENT=$((23900 + 2 * slot))
	ETCD_PEER=$((23901 + 2 * slot))
	PG_PORT=([1]=$((56000 + 2 * slot)) [2]=$((56001 + 2 * slot)))
	REST_PORT=([1]=$((28100 + 2 * slot)) [2]=$((28101 + 2 * slot)))
fi
LOAD_SECONDS=${HA_LOAD_SECONDS:-30}
KILL_AFTER=${HA_KILL_AFTER:-8}
THREADS=${HA_THREADS:-4}
PROVIDERS=2000   # 200,000 task x provider pairs: the load never runs out of pairs
TASKS=100
[ "${HA_BENCH:-0}" = 1 ] && PROVIDERS=3000   # fewer repeated pairs in the measurement
T0=$(date +%s)

# ---------------------------------------------------------------- TAP helpers
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
	local d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
skip() { n=$((n + 1)); echo "ok $n - # SKIP $*"; }
diag() { echo "# $*"; }
bail() { # the EXIT trap prints the logs' tails and stops everything
	echo "Bail out! $*"
	exit 1
}
elapsed() { echo $(($(date +%s) - T0)); }

# ---------------------------------------------------------------- dependencies
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the HA test runs as root (apt-get; PostgreSQL and Patroni run as user postgres)"
	exit 0
fi

need=()
command -v patroni >/dev/null || need+=(patroni)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v curl >/dev/null || need+=(curl)
$PY -c 'import psycopg2' 2>/dev/null || need+=(python3-psycopg2)
# the agents: built here (libpq, libcrypto), their jobs in bubblewrap
command -v bwrap >/dev/null || need+=(bubblewrap)
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
[ -f "$(pg_config --includedir)/libpq-fe.h" ] || need+=(libpq-dev)
[ -f "$(pg_config --pkglibdir)/pg_cron.so" ] || need+=(postgresql-15-cron)
if [ ${#need[@]} -gt 0 ]; then
	echo "# installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_get() { apt-get -o DPkg::Lock::Timeout=600 -y -qq "$@" >/tmp/lagbid-ha-apt.log 2>&1; }
	apt_get install "${need[@]}" || { apt_get update && apt_get install "${need[@]}"; } ||
		{ echo "Bail out! apt-get install ${need[*]} failed (see /tmp/lagbid-ha-apt.log)"; exit 1; }
fi
PGBIN=$(pg_config --bindir)
PSQL=$PGBIN/psql

# One PostgreSQL installation is shared by every checkout and helper: install
# under the install lock (LAGBID_LOCK), then hold it shared for the whole test so
# that nobody swaps lagbid.so under the running servers (as bench/run.sh does).
# When scripts/test.sh runs us it already holds the lock on fd 9.
if [ "$(readlink /proc/$$/fd/9 2>/dev/null)" != ${LAGBID_LOCK:-/tmp/lagbid-install.lock} ]; then
	exec 9>${LAGBID_LOCK:-/tmp/lagbid-install.lock}
	if [ "${HA_SKIP_INSTALL:-0}" != 1 ]; then
		for attempt in 1 2 3; do
			flock -w 3600 9 || { echo "Bail out! waited an hour for ${LAGBID_LOCK:-/tmp/lagbid-install.lock}"; exit 1; }
			make -C "$root" -s install >/tmp/lagbid-ha-install.log 2>&1 && break
			[ $attempt = 3 ] && { echo "Bail out! make install failed (see /tmp/lagbid-ha-install.log)"; exit 1; }
			flock -u 9
			sleep 60   # the tree may be mid-edit
		done
		echo "# lagbid installed (make install) at +$(elapsed) s"
	fi
	flock -s -w 3600 9 || { echo "Bail out! waited an hour for ${LAGBID_LOCK:-/tmp/lagbid-install.lock}"; exit 1; }
fi
if ldd "$(pg_config --pkglibdir)/lagbid.so" 2>/dev/null | grep -q libasan; then
	echo "Bail out! the installed lagbid.so is a sanitizer (ASan) build, which a server without"
	echo "# LD_PRELOAD=libasan cannot load; run make install with a normal build first"
	exit 1
fi

# ---------------------------------------------------------------- processes
# start_as_postgres NAME LOG CMD...: runs CMD as postgres in the background;
# its own pid (not runuser's) goes to $BASE/NAME.pid
start_as_postgres() {
	local name=$1 log=$2; shift 2
	(cd "$BASE" && runuser -u postgres -- env PATH="$PGBIN:/usr/bin:/bin" \
		bash -c 'echo $$ > "$0"; exec "$@"' "$BASE/$name.pid" "$@" >>"$log" 2>&1 9>&- &)
	for _ in $(seq 50); do [ -s "$BASE/$name.pid" ] && return 0; sleep 0.1; done
	return 1
}
pid_of() { cat "$BASE/$1.pid" 2>/dev/null; }
# ours PID: the process is alive and runs out of $BASE
ours() { [ -n "${1:-}" ] && { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q "$BASE"; }
postmaster_pid() { head -1 "$BASE/node$1/data/postmaster.pid" 2>/dev/null; }
kill_ours() { # kill_ours SIGNAL PID...
	local sig=$1 p; shift
	for p in "$@"; do ours "$p" && kill "-$sig" "$p" 2>/dev/null; done
	return 0
}
wait_gone() { # wait_gone SECONDS PID...
	local t=$(($1 * 10)) p alive; shift
	while [ $t -gt 0 ]; do
		alive=0
		for p in "$@"; do ours "$p" && alive=1; done
		[ $alive = 0 ] && return 0
		sleep 0.1; t=$((t - 1))
	done
	return 1
}

client_pid=
stop_all() {
	[ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
	declare -F agents_stop >/dev/null && agents_stop
	local p1 p2 pm1 pm2
	p1=$(pid_of patroni1); p2=$(pid_of patroni2)
	pm1=$(postmaster_pid 1); pm2=$(postmaster_pid 2)
	kill_ours TERM "$p1" "$p2"          # Patroni stops its postgres (fast)
	wait_gone 20 "$p1" "$p2" || kill_ours KILL "$p1" "$p2"
	pm1=$(postmaster_pid 1); pm2=$(postmaster_pid 2)
	kill_ours QUIT "$pm1" "$pm2"
	wait_gone 5 "$pm1" "$pm2" || kill_ours KILL "$pm1" "$pm2"
	kill_ours TERM "$(pid_of etcd)"
	wait_gone 5 "$(pid_of etcd)" || kill_ours KILL "$(pid_of etcd)"
}

diagnostics() {
	local i f
	for i in 1 2; do
		[ -f "$BASE/patroni$i.log" ] && { diag "--- tail of $BASE/patroni$i.log"; tail -n 25 "$BASE/patroni$i.log" | sed 's/^/#   /'; }
		f=$BASE/log$i/postgresql.log
		[ -f "$f" ] && { diag "--- tail of $f"; tail -n 15 "$f" | sed 's/^/#   /'; }
	done
	[ -f "$BASE/etcd.log" ] && { diag "--- tail of $BASE/etcd.log"; tail -n 5 "$BASE/etcd.log" | sed 's/^/#   /'; }
}

finish() {
	local rc=$?
	if [ "$failed" -gt 0 ] || [ $rc -ne 0 ]; then diagnostics; fi
	stop_all
	echo "1..$n"
	if [ "$failed" -gt 0 ] || [ $rc -ne 0 ]; then
		echo "# FAILED: $failed of $n tests, in $(elapsed) s (data kept in $BASE)"
		[ $rc -ne 0 ] || rc=1
	else
		echo "# all $n tests passed in $(elapsed) s"
	fi
	exit $rc
}

# ---------------------------------------------------------------- a clean slate
if [ -d "$BASE" ]; then
	# processes of an earlier run (only those running out of $BASE)
	for f in "$BASE"/*.pid; do [ -f "$f" ] && kill_ours KILL "$(cat "$f")"; done
	for i in 1 2; do kill_ours KILL "$(postmaster_pid $i)"; done
	sleep 0.5
	rm -rf "$BASE"
fi
for port in $ETCD_CLIENT $ETCD_PEER ${PG_PORT[1]} ${PG_PORT[2]} ${REST_PORT[1]} ${REST_PORT[2]}; do
	if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
		echo "Bail out! port $port is in use"
		exit 1
	fi
done
mkdir -p "$BASE"/{sock,log1,log2,node1,node2}
chmod 700 "$BASE"/node1 "$BASE"/node2
chown -R postgres: "$BASE"
trap finish EXIT
trap 'exit 130' INT TERM

q() { # q NODE SQL: one query on node NODE, database market, unaligned
	"$PSQL" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PG_PORT[$1]}" -U postgres -d market -c "$2" 2>&1
}
rest() { # rest NODE PATH: the HTTP status of a Patroni endpoint
	curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:${REST_PORT[$1]}$2"
}
wait_for() { # wait_for SECONDS COMMAND...: polls every 0.5 s
	local t=$(($1 * 2)); shift
	while [ $t -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5; t=$((t - 1))
	done
	return 1
}
is_rest() { [ "$(rest "$1" "$2")" = 200 ]; }
. "$here/agents.sh"

# ---------------------------------------------------------------- etcd
start_as_postgres etcd "$BASE/etcd.log" etcd --name ha --data-dir "$BASE/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
	--initial-cluster "ha=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new ||
	bail "etcd did not start"
if wait_for 30 env ETCDCTL_API=3 etcdctl --endpoints="http://127.0.0.1:$ETCD_CLIENT" endpoint health; then
	ok "etcd is up on 127.0.0.1:$ETCD_CLIENT"
else
	notok "etcd is up on 127.0.0.1:$ETCD_CLIENT"; bail "no etcd"
fi

# ---------------------------------------------------------------- Patroni
patroni_conf() { # patroni_conf N
	local i=$1
	cat <<YAML
scope: lagbid-ha
name: node$i
restapi:
  listen: 127.0.0.1:${REST_PORT[$i]}
  connect_address: 127.0.0.1:${REST_PORT[$i]}
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    # a dead leader's key expires after ttl seconds; then the sync standby takes over
    ttl: 10
    loop_wait: 2
    retry_timeout: 3
    maximum_lag_on_failover: 33554432
    # only a synchronous standby may be promoted, and a commit is acknowledged
    # only once that standby has it: no acknowledged bid is lost on failover
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        shared_preload_libraries: pg_cron
        cron.database_name: market
        # run each job in a background worker of the local server: a job run
        # over libpq goes to the nodename:nodeport stored in cron.job when it
        # was scheduled (the old primary's port here), not to the new primary
        cron.use_background_workers: 'on'
        max_worker_processes: 16
        max_connections: 100
        max_locks_per_transaction: 128
        wal_keep_size: 256MB
        lc_messages: C
  initdb:
    - encoding: UTF8
    - locale: C
    - data-checksums
postgresql:
  listen: 127.0.0.1:${PG_PORT[$i]}
  connect_address: 127.0.0.1:${PG_PORT[$i]}
  data_dir: $BASE/node$i/data
  bin_dir: $PGBIN
  pgpass: $BASE/node$i/pgpass
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
  authentication:
    superuser:
      username: postgres
      password: lagbid-ha
    replication:
      username: replicator
      password: lagbid-ha
  # loopback only, a throwaway cluster: trust
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
  parameters:
    unix_socket_directories: $BASE/sock
    logging_collector: 'on'
    log_directory: $BASE/log$i
    log_filename: postgresql.log
    log_rotation_age: 0
    log_rotation_size: 0
    log_line_prefix: '%m [%p] %q%a '
YAML
}
for i in 1 2; do
	patroni_conf $i >"$BASE/patroni$i.yml"
	chown postgres: "$BASE/patroni$i.yml"
done

start_as_postgres patroni1 "$BASE/patroni1.log" patroni "$BASE/patroni1.yml" || bail "patroni1 did not start"
if wait_for 60 is_rest 1 /primary; then
	ok "node1 bootstrapped and is the Patroni leader (primary on port ${PG_PORT[1]})"
else
	notok "node1 bootstrapped and is the Patroni leader"; bail "no primary"
fi

start_as_postgres patroni2 "$BASE/patroni2.log" patroni "$BASE/patroni2.yml" || bail "patroni2 did not start"
if wait_for 90 is_rest 2 /sync; then
	ok "node2 is a streaming synchronous standby (port ${PG_PORT[2]})"
else
	notok "node2 is a streaming synchronous standby"; bail "no synchronous standby"
fi
diag "synchronous_standby_names on node1: $("$PSQL" -X -qAt -h 127.0.0.1 -p "${PG_PORT[1]}" -U postgres -d postgres -c 'SHOW synchronous_standby_names')"

# ---------------------------------------------------------------- the market
out=$("$PSQL" -X -qAt -h 127.0.0.1 -p "${PG_PORT[1]}" -U postgres -d postgres -c 'CREATE DATABASE market' 2>&1) ||
	bail "CREATE DATABASE market: $out"
if out=$("$PSQL" -X -qAt -h 127.0.0.1 -p "${PG_PORT[1]}" -U postgres -d market \
	-v providers=$PROVIDERS -v tasks=$TASKS -f "$here/setup.sql" 2>&1); then
	ok "market set up on the primary: pg_cron, lagbid $(q 1 'SELECT lagbid.version()'), tick scheduled, $PROVIDERS providers, $TASKS tasks"
else
	notok "market set up on the primary"; echo "$out" | sed 's/^/#   /'; bail "setup failed"
fi
diag "pg_cron jobs: $(q 1 "SELECT string_agg(format('%s [%s] %s (nodename %s, nodeport %s)', jobid, schedule, command, nodename, nodeport), '; ') FROM cron.job")"

# the standby has the market too, and its tick does nothing
wait_for 20 bash -c "[ \"\$($PSQL -X -qAt -h 127.0.0.1 -p ${PG_PORT[2]} -U postgres -d market -c 'SELECT count(*) FROM lagbid.task' 2>/dev/null)\" = $TASKS ]"
r=$(q 2 'SELECT lagbid.tick()')
check "lagbid.tick() on the standby returns {\"standby\": true} (got $r)" [ "$r" = '{"standby": true}' ]

# the read API on the hot standby, called as PostgREST calls it: one
# transaction, the JWT's role and claims set locally (docs/read-scaling.md)
api() { # api NODE ROLE SUB SQL: prints the result, or the SQLSTATE of the error
	local claims
	[ "$2" = lagbid_anon ] && claims='{"role": "lagbid_anon"}' || claims="{\"role\": \"$2\", \"sub\": \"$3\"}"
	"$PSQL" -X -qAt -v VERBOSITY=sqlstate -h 127.0.0.1 -p "${PG_PORT[$1]}" -U postgres -d market 2>&1 <<SQL | tr '\n' ' ' | sed 's/ *$//'
BEGIN;
SELECT set_config('lagbid.authenticators', session_user, true), set_config('role', '$2', true), set_config('request.jwt.claims', '$claims', true) \\g /dev/null
$4;
COMMIT;
SQL
}
cp1=$(q 2 'SELECT ha.node(1)')
reads_ok=0 reads_bad=
for call in "lagbid_provider|$cp1|SELECT count(*) FROM lagbid_api.open_tasks(10)" \
	"lagbid_provider|$cp1|SELECT count(*) FROM lagbid_api.my_bids()" \
	"lagbid_provider|$cp1|SELECT count(*) FROM lagbid_api.my_jobs()" \
	"lagbid_provider|$cp1|SELECT lagbid_api.balance()" \
	"lagbid_provider|$cp1|SELECT count(*) FROM lagbid_api.notifications()" \
	"lagbid_owner|ha-owner|SELECT count(*) FROM lagbid_api.my_tasks()" \
	"lagbid_owner|ha-owner|SELECT count(*) FROM lagbid_api.task_bids(1)" \
	"lagbid_owner|ha-owner|SELECT count(*) FROM lagbid_api.my_spaces()" \
	"lagbid_owner|ha-owner|SELECT lagbid_api.balance()" \
	"lagbid_owner|ha-owner|SELECT count(*) FROM lagbid_api.notifications(false)" \
	"lagbid_anon||SELECT open_tasks FROM lagbid_api.market_stats()"; do
	IFS='|' read -r role sub sql <<<"$call"
	r=$(api 2 "$role" "$sub" "$sql")
	if [[ "$r" =~ ^[0-9.]+$ ]]; then reads_ok=$((reads_ok + 1)); else reads_bad+=" [$sql as $role: $r]"; fi
done
check "11 read calls of lagbid_api answer on the hot standby ($reads_ok answered)${reads_bad}" [ "$reads_ok" = 11 ]
r1=$(api 2 lagbid_provider "$cp1" 'SELECT lagbid_api.place_bid(1, 5)')
r2=$(api 2 lagbid_provider "$cp1" "SELECT lagbid_api.acknowledge('{1}')")
check "writes through lagbid_api are refused on the standby with SQLSTATE 25006 (place_bid: $r1; acknowledge: $r2)" \
	bash -c "[[ '$r1' == *25006* && '$r2' == *25006* ]]"

# ---------------------------------------------------------------- optional: throughput of place_bid
if [ "${HA_BENCH:-0}" = 1 ]; then
	pgb() { # pgb PGOPTIONS: prints tps
		PGOPTIONS="$1" "$PGBIN/pgbench" -n -h 127.0.0.1 -p "${PG_PORT[1]}" -U postgres \
			-c "${HA_BENCH_CLIENTS:-16}" -j 4 -T "${HA_BENCH_SECONDS:-20}" \
			-D ntasks=$TASKS -D nproviders=$PROVIDERS -f "$here/bench_bid.sql" market 2>&1 |
			tee -a "$BASE/pgbench.log" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
	}
	for mode in on local; do   # on: wait for the synchronous standby's flush; local: do not
		tps=$(pgb "-c synchronous_commit=$mode")
		check "pgbench place_bid, ${HA_BENCH_CLIENTS:-16} clients, ${HA_BENCH_SECONDS:-20} s, synchronous_commit = $mode: ${tps:-?} tps" [ -n "$tps" ]
	done
	diag "bids after the measurement: $(q 1 'SELECT count(*) FROM lagbid.bid'); invariants broken: $(q 1 'SELECT count(*) FROM lagbid.check_invariants()')"
fi

# ---------------------------------------------------------------- the agents
agents_start || bail "the agents did not start"

# ---------------------------------------------------------------- load, then kill the primary
acked=$BASE/acked.txt
: >"$acked"
DSN="host=127.0.0.1,127.0.0.1 port=${PG_PORT[1]},${PG_PORT[2]} dbname=market user=postgres target_session_attrs=read-write"
$PY "$here/bidder.py" "$DSN" "$acked" "$LOAD_SECONDS" "$THREADS" >"$BASE/bidder.out" 2>"$BASE/bidder.err" &
client_pid=$!

sleep "$KILL_AFTER"
agents_hold_uploads
agents_snapshot
before=$(wc -l <"$acked")
check "bids acknowledged by the primary before the kill ($before)" [ "$before" -gt 0 ]
p1=$(pid_of patroni1); pm1=$(postmaster_pid 1)
kill_at=$(date +%s.%N)
kill_ours KILL "$p1"
kill_ours KILL "$pm1"
diag "SIGKILL node1: patroni (pid $p1) and postmaster (pid $pm1) at +$(elapsed) s, $before bids acknowledged so far"
wait_gone 10 "$p1" "$pm1" || diag "node1 processes still alive after SIGKILL?"

if wait_for 60 bash -c "[ \"\$(curl -s -o /dev/null -m 2 -w '%{http_code}' http://127.0.0.1:${REST_PORT[2]}/primary)\" = 200 ]"; then
	promoted_at=$(date +%s.%N)
	ok "Patroni promoted node2 $(awk -v a="$kill_at" -v b="$promoted_at" 'BEGIN { printf "%.1f", b - a }') s after the kill"
else
	notok "Patroni promoted node2 within 60 s of the kill"; bail "no failover"
fi

# the old node comes back (Patroni rewinds it, or reinitializes it) while the load goes on
start_as_postgres patroni1 "$BASE/patroni1.log" patroni "$BASE/patroni1.yml" || diag "patroni1 did not restart"
rejoin_started=$(date +%s)
agents_after_failover "$kill_at" "$promoted_at"

wait "$client_pid"
client_rc=$?
client_pid=
stats=$(tail -1 "$BASE/bidder.out")
diag "client: $stats"
[ $client_rc = 0 ] || { diag "client exited $client_rc:"; tail -5 "$BASE/bidder.err" | sed 's/^/#   /'; }
total=$(wc -l <"$acked")
after=$(awk -v t="$promoted_at" '$5 > t' "$acked" | wc -l)
check "writes resumed on the new primary ($after of $total acknowledged bids came after the promotion)" [ "$after" -gt 0 ]
gap=$(echo "$stats" | $PY -c 'import json,sys; print(json.load(sys.stdin)["max_gap_s"])' 2>/dev/null)
diag "longest pause between two acknowledged bids: ${gap:-?} s (the write outage seen by the client)"

# ---------------------------------------------------------------- the new primary
# the client's file of acknowledged bids as a VALUES list (no temp table:
# the same query runs on the hot standby)
acked_sql() { # acked_sql SELECT...: prefixes WITH acked AS (the acknowledged bids)
	awk 'BEGIN { print "WITH acked (bid_id, task_id, provider_id, price, at, retried) AS (VALUES" }
	     { printf "%s(%s, %s, %s, %s::numeric, %s::numeric, %s)\n", (NR > 1 ? "," : ""), $1, $2, $3, $4, $5, $6 }
	     END { if (NR == 0) print "(0, 0, 0, 0::numeric, 0::numeric, 0)"; print ")" }' "$acked"
	echo "$1"
}
missing_sql="SELECT count(*) FILTER (WHERE b.id IS NULL), count(*) FROM acked a
  LEFT JOIN lagbid.bid b ON b.id = a.bid_id AND b.task_id = a.task_id AND b.provider_id = a.provider_id AND b.price = a.price;"
missing() { # missing NODE: "<missing> <acknowledged>"
	acked_sql "$missing_sql" | "$PSQL" -X -qAt -F ' ' -h 127.0.0.1 -p "${PG_PORT[$1]}" -U postgres -d market 2>&1
}
show_missing() {
	acked_sql "SELECT 'missing bid ' || a.bid_id || ' (task ' || a.task_id || ', provider ' || a.provider_id || ', retried ' || a.retried || ')'
	             FROM acked a LEFT JOIN lagbid.bid b ON b.id = a.bid_id AND b.task_id = a.task_id AND b.provider_id = a.provider_id
	            WHERE b.id IS NULL ORDER BY a.at LIMIT 10;" |
		"$PSQL" -X -qAt -h 127.0.0.1 -p "${PG_PORT[$1]}" -U postgres -d market 2>&1 | sed 's/^/#   /'
}
r=$(missing 2)
check "every acknowledged bid is on the new primary (missing, acknowledged: $r)" [ "$r" = "0 $total" ]
[ "$r" = "0 $total" ] || show_missing 2

r=$(q 2 'SELECT count(*) FROM lagbid.check_invariants()')
check "SELECT count(*) FROM lagbid.check_invariants() = 0 on the new primary (got $r)" [ "$r" = 0 ]
[ "$r" = 0 ] || q 2 'SELECT * FROM lagbid.check_invariants() LIMIT 10' | sed 's/^/#   /'

r=$(q 2 'SELECT lagbid.tick()')
check "lagbid.tick() works on the new primary: $r" bash -c "echo '$r' | grep -q '\"deferred\"'"
agents_settle
diag "in-doubt bids: $(echo "$stats" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["in_doubt"], "lost connections,", d["retried_acked"], "identical bids re-sent and acknowledged with their id")' 2>/dev/null)"

# ---------------------------------------------------------------- the old node as a replica
if wait_for 120 is_rest 1 /replica; then
	rejoined_at=$(date +%s)
	ok "old node1 rejoined as a replica $((rejoined_at - rejoin_started)) s after its restart ($(grep -c -i 'rewind' "$BASE/patroni1.log") rewind lines in its log)"
	r=$(q 1 'SELECT pg_is_in_recovery()')
	check "node1 is in recovery (pg_is_in_recovery = $r)" [ "$r" = t ]
	r=$(q 1 'SELECT lagbid.tick()')
	check "lagbid.tick() on the rejoined node1 returns {\"standby\": true} (got $r)" [ "$r" = '{"standby": true}' ]
	lsn=$(q 2 'SELECT pg_current_wal_lsn()')
	wait_for 30 bash -c "[ \"\$($PSQL -X -qAt -h 127.0.0.1 -p ${PG_PORT[1]} -U postgres -d market -c \"SELECT pg_last_wal_replay_lsn() >= '$lsn'\")\" = t ]"
	r=$(missing 1)
	check "every acknowledged bid is on the rejoined replica too (missing, acknowledged: $r)" [ "$r" = "0 $total" ]
	[ "$r" = "0 $total" ] || show_missing 1
	log1_from=$(stat -c %s "$BASE/log1/postgresql.log" 2>/dev/null || echo 0)
	agents_after_rejoin
else
	rejoined_at=
	skip "old node1 did not rejoin as a replica within 120 s"
fi

# ---------------------------------------------------------------- pg_cron after the failover
# pg_cron runs its jobs only where the server is not in recovery: wait for the
# next minutely run of the tick on the new primary (after node1 rejoined, so
# that a run happened while node1 was a standby)
since=${rejoined_at:-${promoted_at%.*}}
cron_ran() {
	[ "$(q 2 "SELECT count(*) FROM cron.job_run_details WHERE command = 'SELECT lagbid.tick()'
	          AND status = 'succeeded' AND start_time > to_timestamp($since)")" -gt 0 ]
}
if wait_for 75 cron_ran; then
	ok "pg_cron ran lagbid.tick() on the new primary after the failover"
	diag "$(q 2 "SELECT 'last run: ' || status || ' ' || return_message || ' at ' || start_time FROM cron.job_run_details ORDER BY runid DESC LIMIT 1")"
else
	notok "pg_cron ran lagbid.tick() on the new primary within 75 s of the failover"
	q 2 'SELECT runid, status, return_message, start_time FROM cron.job_run_details ORDER BY runid DESC LIMIT 5' | sed 's/^/#   /'
fi
# the minute after the promotion has its tick, and no minute has two
r=$(q 2 "SELECT round(extract(epoch FROM min(start_time)) - ${promoted_at}) FROM cron.job_run_details
         WHERE command = 'SELECT lagbid.tick()' AND status = 'succeeded' AND start_time > to_timestamp(${promoted_at})")
check "the first tick on the new primary ran within its next minute: ${r:-never} s after the promotion" \
	bash -c "[ -n '$r' ] && [ '$r' -le 62 ]"
r=$(q 2 "SELECT count(*) || ' runs, ' || count(DISTINCT date_trunc('minute', start_time)) || ' minutes' FROM cron.job_run_details WHERE command = 'SELECT lagbid.tick()'")
d=$(q 2 "SELECT count(*) FROM (SELECT 1 FROM cron.job_run_details WHERE command = 'SELECT lagbid.tick()' GROUP BY date_trunc('minute', start_time) HAVING count(*) > 1) s")
check "pg_cron never ran the tick twice in one minute across the failover ($r on the new primary; $d minutes with two)" [ "$d" = 0 ]
if [ -n "$rejoined_at" ]; then
	sleep 2
	started=$(tail -c +"$((log1_from + 1))" "$BASE/log1/postgresql.log" | grep -c -E 'cron job|lagbid\.tick|terminated by signal|exited with exit code')
	check "pg_cron ran no job on the standby node1 while the primary ran the tick ($started cron/tick/crash lines in its log since it rejoined)" [ "$started" = 0 ]
	diag "pg_cron runs on node2 (primary since the failover): $(grep -c 'cron job .* starting' "$BASE/log2/postgresql.log" 2>/dev/null)"
	# node2 was a standby from its start until the promotion: its scheduler
	# must have started only when recovery ended
	promo_line=$(grep -n 'archive recovery complete' "$BASE/log2/postgresql.log" | head -1 | cut -d: -f1)
	sched_line=$(grep -n 'pg_cron scheduler started' "$BASE/log2/postgresql.log" | head -1 | cut -d: -f1)
	check "pg_cron's scheduler on node2 started only when it was promoted (log lines: promotion ${promo_line:-?}, scheduler ${sched_line:-?})" \
		[ "${sched_line:-0}" -gt "${promo_line:-999999999}" ]
else
	skip "pg_cron on the rejoined standby: node1 did not rejoin"
fi
r=$(q 2 'SELECT count(*) FROM lagbid.check_invariants()')
check "the market is still consistent at the end (check_invariants: $r rows)" [ "$r" = 0 ]

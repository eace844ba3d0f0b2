#!/usr/bin/env bash
# A fleet on one market (issue 22): real lagbid-agent processes, each with its
# own login, key and config, plus many further idle LISTEN sessions (a light
# libpq harness, bench/fleet_listen.c), and tasks published at a steady rate.
#
# Phases, all against one throwaway cluster (fsync off: the fleet is
# measured, not the disk):
#   1. no agents: publish at the steady rate (pgbench -R) -> publish latency
#      p50/p99 with nobody listening (the baseline)
#   2. the fleet: N agents + M LISTEN sessions connected; PostgreSQL's
#      memory per idle agent connection (USS and PSS of their backends)
#   3. the same publishing with the fleet: publish latency p50/p99, NOTIFY ->
#      first bid p50/p99 (bid.placed_at - task.opened_at, the server's clock;
#      target p99 < 50 ms), NOTIFY -> the last of the M sessions (fan-out),
#      tasks completed end to end per second, open_tasks() calls per second
#      (the agents' scans: pg_stat_user_functions) against the N/interval a
#      full scan each interval would cost, CPU load
#   4. lagbid.tick() with the fleet connected, median of 3 runs
# Prints one line per figure and a summary line "fleet: ...".
#
# Bounded: every wait has a limit; the whole run is at most about
# 2 x BENCH_FLEET_SECONDS + 3 minutes of setup; memory is about 3 MB per
# session on the server (measured) plus ~4 MB per agent.
#
# Environment: BENCH_FLEET_AGENTS=200  BENCH_FLEET_LISTENERS=1000
#   BENCH_FLEET_RATE=2 (tasks/s)  BENCH_FLEET_SECONDS=60 (each publishing phase)
#   BENCH_FLEET_SCAN=10 (the agents' scan_interval_s)  BENCH_FLEET_SLOTS=2
#   BENCH_FLEET_BID_LIMIT=3  BENCH_PORT=55750+slot  BENCH_KEEP=1
#   BENCH_DIR=/tmp/lagbid-bench-fleet.$UID.slot
# Needs lagbid installed (make install), agent/lagbid-agent built, bubblewrap.
# Runs as the postgres user when started as root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

agent=${LAGBID_AGENT:-}
[ -n "$agent" ] || { [ -x "$here/agent/lagbid-agent" ] && agent=$here/agent/lagbid-agent; } || true
[ -n "$agent" ] || agent=$(command -v lagbid-agent || true)
[ -n "$agent" ] || { echo "fleet: build agent/ first (make)"; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
	stage=/tmp/lagbid-bench-fleet.stage.$(lagbid_slot)
	rm -rf "$stage"; mkdir -p "$stage/bench" "$stage/scripts" "$stage/agent"
	cp "$here/bench/fleet.sh" "$here/bench/fleet_listen.c" "$stage/bench/"; cp "$here/scripts/lib.sh" "$stage/scripts/"
	cp "$agent" "$stage/agent/lagbid-agent"
	chown -R postgres: "$stage"
	exec runuser -u postgres -- env PATH="$PATH" PG_CONFIG="${PG_CONFIG:-}" LAGBID_AGENT="$stage/agent/lagbid-agent" \
		LAGBID_STAGE="${LAGBID_STAGE:-}" BENCH_PORT="${BENCH_PORT:-}" BENCH_KEEP="${BENCH_KEEP:-}" \
		BENCH_FLEET_AGENTS="${BENCH_FLEET_AGENTS:-200}" BENCH_FLEET_LISTENERS="${BENCH_FLEET_LISTENERS:-1000}" \
		BENCH_FLEET_RATE="${BENCH_FLEET_RATE:-2}" BENCH_FLEET_SECONDS="${BENCH_FLEET_SECONDS:-60}" \
		BENCH_FLEET_SCAN="${BENCH_FLEET_SCAN:-10}" BENCH_FLEET_SLOTS="${BENCH_FLEET_SLOTS:-2}" \
		BENCH_FLEET_BID_LIMIT="${BENCH_FLEET_BID_LIMIT:-3}" bash "$stage/bench/fleet.sh"
fi

nagents=${BENCH_FLEET_AGENTS:-200}
nlisten=${BENCH_FLEET_LISTENERS:-1000}
rate=${BENCH_FLEET_RATE:-2}
secs=${BENCH_FLEET_SECONDS:-60}
scan=${BENCH_FLEET_SCAN:-10}
slots=${BENCH_FLEET_SLOTS:-2}
bidlimit=${BENCH_FLEET_BID_LIMIT:-3}
slot=$(lagbid_slot)
port=${BENCH_PORT:-$((55750 + slot))}
dir=${BENCH_DIR:-/tmp/lagbid-bench-fleet.$(id -u).$slot}
pgbin=$(pg_config --bindir)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${BENCH_KEEP:-}" ] || pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
rm -rf "$dir"; mkdir -p "$dir"
initdb -D "$dir/data" -A trust -U postgres >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = $((nagents + nlisten + 40))
shared_buffers = 256MB
log_min_messages = warning
track_functions = 'all'
fsync = off
synchronous_commit = off
CONF
pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 120 start >/dev/null
psql() { command psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"; }
cc -O2 -o "$dir/fleet_listen" "$here/bench/fleet_listen.c" -I"$(pg_config --includedir)" -L"$(pg_config --libdir)" -lpq

psql -c "CREATE EXTENSION lagbid"
psql -c "SELECT lagbid.deposit('bench', 1e12, 'bench')" >/dev/null
echo "fleet: $nagents agents, $nlisten further LISTEN sessions, $rate tasks/s for $secs s per phase, scan_interval_s $scan, $slots slots, bid_limit $bidlimit; $(nproc) cores"

workload='{"command": ["sh", "-c", "echo ok"], "timeout_s": 30}'
cat >"$dir/publish.sql" <<SQL
SELECT lagbid.publish_task('bench', '{"cpu": 1}', 1, 2, 1, bid_limit => $bidlimit, workload => '$workload'::jsonb);
SQL
# publish at the steady rate for $secs s; prints "p50 p99 tasks" of the
# execution time (ms, the schedule lag taken out)
publish_phase() {
	local tag=$1
	rm -f "$dir/$tag".*
	(cd "$dir" && "$pgbin/pgbench" -n -h "$dir" -p "$port" -U postgres -c 1 -R "$rate" -T "$secs" \
		-l --log-prefix="$tag" -f "$dir/publish.sql" postgres >"$dir/pgbench-$tag.out" 2>&1)
	cat "$dir/$tag".* 2>/dev/null | awk '{ print ($3 - ($7 == "" ? 0 : $7)) / 1000 }' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) { print "? ? 0"; exit }
			m = int(NR * 0.5 + 0.5); if (m < 1) m = 1; p = int(NR * 0.99 + 0.5); if (p > NR) p = NR; if (p < 1) p = 1
			printf "%.2f %.2f %d\n", a[m], a[p], NR }'
}

# ---- 1. the baseline: nobody listens ----
read -r base50 base99 basen < <(publish_phase base)
echo "fleet: publish with no agents: p50 $base50 ms, p99 $base99 ms ($basen tasks at $rate/s)"
# the baseline's tasks are nobody's: cancel them
psql -c "SELECT count(lagbid.cancel_task(id, 'baseline')) FROM lagbid.task WHERE state = 'accepting_bids'" >/dev/null
tick_ms() { # the median of 3 ticks, ms
	for _ in 1 2 3; do psql -c '\timing on' -c 'SELECT lagbid.tick()' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; done | sort -g | sed -n 2p
}
tick0=$(tick_ms)
echo "fleet: lagbid.tick() with no agents: $tick0 ms (median of 3)"

# ---- 2. the fleet ----
init_agent() {
	local i=$1
	psql -c "CREATE ROLE cp$i LOGIN; GRANT lagbid_provider TO cp$i" >/dev/null
	"$agent" init --dir "$dir/agent$i" --conninfo "host=$dir port=$port dbname=postgres user=cp$i" \
		--region eu-west --multiaddr "/ip4/127.0.0.1/tcp/$((10000 + i))" --max-concurrent "$slots" >/dev/null
	sed -i -e 's/^cpu_core_hour = .*/cpu_core_hour = 0/' -e 's/^memory_gb_hour = .*/memory_gb_hour = 0/' \
		-e 's/^storage_gb_hour = .*/storage_gb_hour = 0/' -e "s/^proxy_listen = .*/proxy_listen = 127.0.0.1:$((30000 + i))/" -e "s/^scan_interval_s = .*/scan_interval_s = $scan/" \
		"$dir/agent$i/lagbid-agent.conf"
}
t0=$(date +%s)
for i in $(seq "$nagents"); do init_agent "$i"; done
echo "fleet: $nagents agents initialized (keys, logins, signed registrations) in $(($(date +%s) - t0)) s"
for i in $(seq "$nagents"); do
	"$agent" run --dir "$dir/agent$i" 2>"$dir/agent$i.log" &
	pids+=($!)
done
ulimit -n "$((nlisten + 100))" 2>/dev/null || true
"$dir/fleet_listen" "host=$dir port=$port dbname=postgres user=postgres application_name=fleet_listen" \
	"$nlisten" $((secs * 3 + 600)) >"$dir/fanout.tsv" 2>"$dir/fleet_listen.err" &
lpid=$!
pids+=($lpid)
ready=
for _ in $(seq 1200); do
	a=$(psql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'")
	grep -q '^ready' "$dir/fleet_listen.err" 2>/dev/null && [ "$a" -ge "$nagents" ] && { ready=1; break; }
	kill -0 "$lpid" 2>/dev/null || { cat "$dir/fleet_listen.err"; exit 1; }
	for k in "${!pids[@]}"; do   # an agent that exits at start (a bad config) fails the run now
		[ "${pids[$k]}" = "$lpid" ] || kill -0 "${pids[$k]}" 2>/dev/null ||
			{ echo "fleet: agent $((k + 1)) exited:"; tail -3 "$dir/agent$((k + 1)).log"; exit 1; }
	done
	sleep 0.5
done
[ -n "$ready" ] || { echo "fleet: the fleet did not connect in 600 s ($a agents)"; exit 1; }
echo "fleet: connected: $(psql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'") client backends in $(($(date +%s) - t0)) s"
sleep $((scan + 5))   # past the first (jittered) scans: the agents are idle

# USS (private) and PSS of the idle agents' backends, in kB
read -r uss pss nb < <(psql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'lagbid-agent'" |
	while read -r p; do
		awk '/^Pss:/ { pss = $2 } /^Private_(Clean|Dirty):/ { uss += $2 } END { print uss, pss }' "/proc/$p/smaps_rollup" 2>/dev/null
	done | awk '{ u += $1; s += $2; n++ } END { printf "%.0f %.0f %d\n", u / n, s / n, n }')
read -r luss < <(psql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'fleet_listen' LIMIT 50" |
	while read -r p; do awk '/^Private_(Clean|Dirty):/ { uss += $2 } END { print uss }' "/proc/$p/smaps_rollup" 2>/dev/null; done |
	awk '{ u += $1; n++ } END { printf "%.0f\n", n ? u / n : 0 }')
echo "fleet: PostgreSQL memory per idle agent connection: $((uss / 1024)).$(((uss % 1024) * 10 / 1024)) MB private (USS), $((pss / 1024)).$(((pss % 1024) * 10 / 1024)) MB PSS (mean of $nb backends); a bare LISTEN session: $((luss / 1024)).$(((luss % 1024) * 10 / 1024)) MB private"
agent_rss=$(for p in "${pids[@]}"; do [ "$p" = "$lpid" ] || awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | awk '{ s += $1; n++ } END { printf "%.1f", s / n / 1024 }')
echo "fleet: an idle lagbid-agent process: $agent_rss MB RSS"

# the owner's side: finalize what has all its reports (as the tick would)
finalizer() {
	while :; do
		psql -c "SELECT count(lagbid.finalize(t.id)) FROM lagbid.task t
			 WHERE t.state = 'processing'
			   AND NOT EXISTS (SELECT 1 FROM lagbid.job j WHERE j.task_id = t.id AND j.state = 'processing')" \
			>/dev/null 2>&1 || true
		sleep 0.2
	done
}
finalizer &
pids+=($!)

# ---- 3. publishing with the fleet ----
first=$(psql -c "SELECT coalesce(max(id), 0) + 1 FROM lagbid.task")
scans0=$(psql -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'lagbid_api' AND funcname = 'open_tasks'")
mail0=$(psql -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'lagbid_api' AND funcname = 'notifications'")
# bid attempts: what the agents logged (a refused call leaves no function statistics)
attempts() { cat "$dir"/agent*.log | grep -c -E 'bid [0-9]+ placed on task|declined \((capacity|market)\): the market refused' || true; }
bids0=$(attempts)
cpu0=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
ts0=$(date +%s.%N)
read -r pub50 pub99 pubn < <(publish_phase fleet)
ts1=$(date +%s.%N)
cpu1=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
scans1=$(psql -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'lagbid_api' AND funcname = 'open_tasks'")
mail1=$(psql -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'lagbid_api' AND funcname = 'notifications'")
bids1=$(attempts)
last=$(psql -c "SELECT max(id) FROM lagbid.task")
# let the last tasks finish (bounded)
for _ in $(seq 120); do
	left=$(psql -c "SELECT count(*) FROM lagbid.task WHERE id BETWEEN $first AND $last AND state NOT IN ('completed', 'failed', 'cancelled')")
	[ "$left" -eq 0 ] && break
	sleep 0.5
done
echo "fleet: publish with the fleet: p50 $pub50 ms, p99 $pub99 ms ($pubn tasks at $rate/s; no agents: p50 $base50, p99 $base99)"
read -r b50 b99 nb < <(psql -F ' ' -c "
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), count(*)
	  FROM (SELECT extract(epoch FROM min(b.placed_at) - t.opened_at) * 1000 AS ms
	          FROM lagbid.task t JOIN lagbid.bid b ON b.task_id = t.id
	         WHERE t.id BETWEEN $first AND $last GROUP BY t.id, t.opened_at) s")
echo "fleet: NOTIFY -> first bid: p50 $b50 ms, p99 $b99 ms over $nb tasks (target p99 < 50 ms)"
kill -TERM "$lpid"; wait "$lpid" 2>/dev/null || true
read -r f50 f99 fall < <(psql -F ' ' <<SQL | tail -1
CREATE TEMP TABLE fan (task_id bigint, first_us bigint, last_us bigint, n int);
\\copy fan FROM '$dir/fanout.tsv'
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
       count(*) FILTER (WHERE n = $nlisten) || '/' || count(*)
  FROM (SELECT (f.last_us / 1e6 - extract(epoch FROM t.opened_at)) * 1000 AS ms, f.n
          FROM lagbid.task t JOIN fan f ON f.task_id = t.id WHERE t.id BETWEEN $first AND $last) s;
SQL
)
echo "fleet: NOTIFY -> the last of $nlisten LISTEN sessions: p50 $f50 ms, p99 $f99 ms ($fall tasks reached every session)"
read -r done_n < <(psql -c "SELECT count(*) FROM lagbid.task WHERE id BETWEEN $first AND $last AND state = 'completed'")
tput=$(awk -v n="$done_n" -v a="$ts0" -v b="$ts1" 'BEGIN { printf "%.2f", n / (b - a) }')
echo "fleet: $done_n of $((last - first + 1)) tasks completed end to end: $tput tasks/s"
scan_rate=$(awk -v a="$scans0" -v b="$scans1" -v x="$ts0" -v y="$ts1" 'BEGIN { printf "%.2f", (b - a) / (y - x) }')
full_rate=$(awk -v n="$nagents" -v s="$scan" 'BEGIN { printf "%.2f", n / s }')
bid_rate=$(awk -v a="$bids0" -v b="$bids1" -v x="$ts0" -v y="$ts1" 'BEGIN { printf "%.1f", (b - a) / (y - x) }')
mail_rate=$(awk -v a="$mail0" -v b="$mail1" -v x="$ts0" -v y="$ts1" 'BEGIN { printf "%.1f", (b - a) / (y - x) }')
nq=$(psql -c "SELECT count(*) FROM lagbid.notification WHERE created_at > to_timestamp($ts0)")
echo "fleet: open_tasks() calls: $scan_rate/s (a full scan by every agent each interval: $full_rate/s); place_bid calls: $bid_rate/s (placed or refused); notifications() fetches: $mail_rate/s for $nq notifications"
busy=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / ((y[1] - x[1]) + (y[2] - x[2])) }')
echo "fleet: CPU busy during the publishing phase: $busy % of $(nproc) cores"

# ---- 4. the tick with the fleet connected ----
tick=$(tick_ms)
echo "fleet: lagbid.tick() with the fleet connected: $tick ms (median of 3; no agents: $tick0 ms)"
bad=$(psql -c "SELECT count(*) FROM lagbid.check_invariants()")
errs=$(cat "$dir"/agent*.log | grep -c -E 'ERROR|FATAL' || true)
echo "fleet: $nagents agents, $nlisten LISTEN sessions, $rate tasks/s: NOTIFY->bid p50 $b50 ms p99 $b99 ms (target < 50); fan-out to $nlisten p99 $f99 ms; $tput tasks/s end to end; publish p99 $pub99 ms (no agents $base99); $((uss / 1024)).$(((uss % 1024) * 10 / 1024)) MB per idle agent backend; scans $scan_rate/s (full $full_rate/s); bids $bid_rate/s; fetches $mail_rate/s; tick $tick ms (no agents $tick0); CPU $busy %; agent log errors $errs; check_invariants $bad rows"
[ "$bad" -eq 0 ]

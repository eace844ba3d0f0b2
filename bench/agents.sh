#!/usr/bin/env bash
# lagbid-agent end to end: 8 real agents on this machine, a trivial
# workload (sh -c 'echo ok'), a throwaway cluster.
#
# Two measures per round, medians over the rounds printed at the end:
#   * NOTIFY-to-bid latency: tasks published one at a time (idle agents);
#     for each task, the first bid's placed_at minus the task's opened_at
#     (both the server's clock): p50 and p99 (target p99 < 20 ms); the
#     cluster runs with fsync off: the agents are measured, not the disk.
#     Baseline: when the same NOTIFY reaches a bare libpq client
#     (bench/listener.c): the agent's own share is the difference
#   * throughput: a burst of tasks published at once; tasks completed end
#     to end (bid, allocated, run in the sandbox, uploaded, finalized) per
#     second, from the first publish to the last completion
#
# Needs lagbid installed (make install) and agent/lagbid-agent built (or
# lagbid-agent on PATH).  Runs as the postgres user when started as root.
# Environment: BENCH_ROUNDS=3  BENCH_AGENTS=8  BENCH_LATENCY_TASKS=100  BENCH_LATENCY_GAP=0.1 (s)
#   BENCH_BURST_TASKS=200  BENCH_SLOTS=4 (max_concurrent of each agent)
#   BENCH_PORT=55700+slot  BENCH_DIR=/tmp/lagbid-bench-agents.$UID.slot  BENCH_KEEP=1
#   (slot: scripts/lib.sh lagbid_slot, 0 unless LAGBID_STAGE is set)
#   BENCH_PRELUDE=FILE (SQL run after CREATE EXTENSION, e.g. settings)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

agent=${LAGBID_AGENT:-}
[ -n "$agent" ] || { [ -x "$here/agent/lagbid-agent" ] && agent=$here/agent/lagbid-agent; } || true
[ -n "$agent" ] || agent=$(command -v lagbid-agent || true)
[ -n "$agent" ] || { echo "agents: build agent/ first (make)"; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
	# PostgreSQL refuses root: copy what we need where postgres can read it
	stage=/tmp/lagbid-bench-agents.stage.$(lagbid_slot)
	rm -rf "$stage"; mkdir -p "$stage/bench" "$stage/scripts" "$stage/agent"
	cp "$here/bench/agents.sh" "$here/bench/listener.c" "$stage/bench/"; cp "$here/scripts/lib.sh" "$stage/scripts/"
	cp "$agent" "$stage/agent/lagbid-agent"
	[ -n "${BENCH_PRELUDE:-}" ] && cp "$BENCH_PRELUDE" "$stage/prelude.sql" && export BENCH_PRELUDE=$stage/prelude.sql
	chown -R postgres: "$stage"
	exec runuser -u postgres -- env PATH="$PATH" PG_CONFIG="$PG_CONFIG" LAGBID_AGENT="$stage/agent/lagbid-agent" \
		BENCH_ROUNDS="${BENCH_ROUNDS:-3}" BENCH_AGENTS="${BENCH_AGENTS:-8}" \
		BENCH_LATENCY_TASKS="${BENCH_LATENCY_TASKS:-100}" BENCH_BURST_TASKS="${BENCH_BURST_TASKS:-200}" \
		BENCH_SLOTS="${BENCH_SLOTS:-4}" BENCH_PORT="${BENCH_PORT:-}" BENCH_KEEP="${BENCH_KEEP:-}" \
		LAGBID_STAGE="${LAGBID_STAGE:-}" \
		BENCH_PRELUDE="${BENCH_PRELUDE:-}" bash "$stage/bench/agents.sh"
fi

rounds=${BENCH_ROUNDS:-3}
nagents=${BENCH_AGENTS:-8}
nlat=${BENCH_LATENCY_TASKS:-100}
nburst=${BENCH_BURST_TASKS:-200}
slots=${BENCH_SLOTS:-4}
# parallel checkouts (LAGBID_STAGE) get their own port and directory
slot=$(lagbid_slot)
port=${BENCH_PORT:-$((55700 + slot))}
dir=${BENCH_DIR:-/tmp/lagbid-bench-agents.$(id -u).$slot}
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -z "${BENCH_KEEP:-}" ]; then
		pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
rm -rf "$dir"; mkdir -p "$dir"
initdb -D "$dir/data" -A trust -U postgres >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 100
shared_buffers = 256MB
log_min_messages = warning
# the agents are measured here, not the disk
fsync = off
synchronous_commit = off
CONF
pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
psql() { command psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"; }

psql -c "CREATE EXTENSION lagbid"
[ -n "${BENCH_PRELUDE:-}" ] && psql -f "$BENCH_PRELUDE" >/dev/null
psql -c "SELECT lagbid.deposit('bench', 1e9, 'bench')" >/dev/null
for i in $(seq "$nagents"); do
	psql -c "CREATE ROLE cp$i LOGIN; GRANT lagbid_provider TO cp$i" >/dev/null
	"$agent" init --dir "$dir/agent$i" --conninfo "host=$dir port=$port dbname=postgres user=cp$i" \
		--region eu-west --multiaddr "/ip4/127.0.0.1/tcp/$((4000 + i))" --max-concurrent "$slots" >/dev/null
	sed -i -e 's/^cpu_core_hour = .*/cpu_core_hour = 0/' -e 's/^memory_gb_hour = .*/memory_gb_hour = 0/' \
		-e 's/^storage_gb_hour = .*/storage_gb_hour = 0/' -e "s/^proxy_listen = .*/proxy_listen = 127.0.0.1:$((30000 + i))/" -e 's/^scan_interval_s = .*/scan_interval_s = 5/' \
		"$dir/agent$i/lagbid-agent.conf"
	"$agent" run --dir "$dir/agent$i" --json 2> "$dir/agent$i.log" &
	pids+=($!)
done
for _ in $(seq 100); do
	[ "$(psql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'")" -eq "$nagents" ] && break
	sleep 0.1
done
echo "agents: $nagents agents connected ($slots slots each), $rounds rounds"

# the baseline: a bare libpq client LISTENing on lagbid_tasks records when
# each NOTIFY reaches it; the agents' latency is compared with that
cc -O2 -o "$dir/listener" "$here/bench/listener.c" -I"$(pg_config --includedir)" -L"$(pg_config --libdir)" -lpq
stdbuf -oL "$dir/listener" "host=$dir port=$port dbname=postgres user=postgres" 100000 lagbid_tasks > "$dir/recv.tsv" 2>/dev/null &
pids+=($!)
sleep 0.5

workload='{"command": ["sh", "-c", "echo ok"], "timeout_s": 30}'
publish_sql() {	# N: N publish statements, one transaction each
	for _ in $(seq "$1"); do
		echo "SELECT lagbid.publish_task('bench', '{\"cpu\": 1}', 1, 2, 1, bid_limit => 1, workload => '$workload'::jsonb);"
	done
}
# the owner's side, all along: finalize every task whose jobs have all
# reported (as tick() would, but without waiting a minute), which frees the
# agents' slots
finalizer() {
	while :; do
		psql -c "SELECT count(lagbid.finalize(t.id)) FROM lagbid.task t
			 WHERE t.state = 'processing'
			   AND NOT EXISTS (SELECT 1 FROM lagbid.job j WHERE j.task_id = t.id AND j.state = 'processing')" \
			>/dev/null 2>&1 || true
		sleep 0.05
	done
}
finalizer &
pids+=($!)

# wait until every task from $1 on is settled, at most $2 s
settle() {
	local from=$1 limit=$2 t0 left
	t0=$(date +%s.%N)
	while :; do
		left=$(psql -c "SELECT count(*) FROM lagbid.task WHERE id >= $from AND state NOT IN ('completed', 'failed', 'cancelled')")
		[ "$left" -eq 0 ] && return 0
		[ "$(echo "$(date +%s.%N) - $t0 > $limit" | bc)" -eq 1 ] && { echo "agents: $left tasks unsettled after $limit s"; return 1; }
		sleep 0.05
	done
}

# warm-up: every agent bids, runs, uploads once
first=$(psql -c "SELECT coalesce(max(id), 0) + 1 FROM lagbid.task")
publish_sql "$nagents" | psql >/dev/null
settle "$first" 60

declare -a p50s p99s tputs b50s b99s
for r in $(seq "$rounds"); do
	# latency: one task at a time, agents idle
	# one warm publishing session: a psql per task would time a cold
	# backend's first publish (loading the library, preparing its plans),
	# not the NOTIFY; the first task, in a region nobody serves and
	# cancelled at once, warms it and is not measured
	first=$(psql -c "SELECT coalesce(max(id), 0) + 1 FROM lagbid.task")
	{
		echo "SELECT lagbid.cancel_task(lagbid.publish_task('bench', '{}', 1, 2, 1, region => 'warm-up'), 'warms the session');"
		for _ in $(seq "$nlat"); do
			publish_sql 1
			echo "SELECT pg_sleep(${BENCH_LATENCY_GAP:-0.1});"
		done
	} | psql >/dev/null
	first=$((first + 1))
	settle "$first" 120
	read -r p50 p99 < <(psql -F ' ' -c "
		SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
		       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
		  FROM (SELECT extract(epoch FROM min(b.placed_at) - t.opened_at) * 1000 AS ms
		          FROM lagbid.task t JOIN lagbid.bid b ON b.task_id = t.id
		         WHERE t.id >= $first GROUP BY t.id, t.opened_at) s")
	read -r b50 b99 < <(psql -F ' ' <<SQL | tail -1
CREATE TEMP TABLE recv (task_id bigint, us bigint);
\\copy recv FROM '$dir/recv.tsv'
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2)
  FROM (SELECT (r.us / 1e6 - extract(epoch FROM t.opened_at)) * 1000 AS ms
          FROM lagbid.task t JOIN recv r ON r.task_id = t.id
         WHERE t.id >= $first AND t.id < $first + $nlat) s;
SQL
)
	# throughput: a burst
	first=$(psql -c "SELECT coalesce(max(id), 0) + 1 FROM lagbid.task")
	t0=$(date +%s.%N)
	publish_sql "$nburst" | psql >/dev/null
	settle "$first" 300
	t1=$(date +%s.%N)
	done_n=$(psql -c "SELECT count(*) FROM lagbid.task WHERE id >= $first AND state = 'completed'")
	tput=$(echo "scale=2; $done_n / ($t1 - $t0)" | bc)
	printf 'round %d: NOTIFY-to-bid p50 %s ms, p99 %s ms (a bare LISTEN client has the NOTIFY at p50 %s ms, p99 %s ms); %s of %s tasks completed end to end, %s tasks/s\n' \
		"$r" "$p50" "$p99" "$b50" "$b99" "$done_n" "$nburst" "$tput"
	p50s+=("$p50"); p99s+=("$p99"); tputs+=("$tput"); b50s+=("$b50"); b99s+=("$b99")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
bad=$(psql -c "SELECT count(*) FROM lagbid.check_invariants()")
echo "agents: median of $rounds rounds, $nagents agents: NOTIFY-to-bid p50 $(median "${p50s[@]}") ms, p99 $(median "${p99s[@]}") ms (target p99 < 20 ms; baseline, NOTIFY to a bare LISTEN client: p50 $(median "${b50s[@]}") ms, p99 $(median "${b99s[@]}") ms); $(median "${tputs[@]}") tasks/s end to end; check_invariants: $bad rows"
echo "agents: machine load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
[ "$bad" -eq 0 ]

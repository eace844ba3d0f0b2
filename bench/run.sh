#!/usr/bin/env bash
# lagbid benchmarks (make bench).  See docs/benchmarks.md.
#
# Installs lagbid, starts a throwaway cluster (as the postgres user when run
# as root) under /tmp/lagbid-bench.$UID on port 56200, loads bench/setup.sql
# and pgbench's own tables, then runs every workload against its baseline,
# alternately, and prints one table: workload, baseline, median of each,
# ratio, target, PASS/MISS.
#
# Environment:
#   BENCH_SECONDS=10        seconds per pgbench run
#   BENCH_ROUNDS=3          rounds (each round runs every workload and baseline)
#   BENCH_CLIENTS=16        pgbench clients for the throughput workloads
#   BENCH_QUICK=1           smoke test: 2 s per run, 1 round, small data (test suite)
#   BENCH_SCALE=1           also the 1,000,000-task scale workload (minutes)
#   BENCH_SCALE_TASKS=1000000  BENCH_SCALE_SPACES=1000000 (1% of them live)
#   BENCH_MEMORY_CALLS=1000000 place_bid calls in one session (memory workload)
#   BENCH_PROFILE=1         after the timed rounds, profile place_bid and the
#                           lifecycle with pg_stat_statements (track = all)
#   BENCH_STRICT=1          exit 1 when a target is missed (default: only errors fail)
#   BENCH_INSTALL=0         do not build and install (automatic when scripts/test.sh,
#                           holding the install lock on fd 9, runs us)
#   BENCH_INSTALL_TRIES=5   build attempts, a minute apart (the tree may be mid-edit)
#   BENCH_KEEP=1            leave the cluster running afterwards
#   BENCH_PORT=56200  BENCH_DIR=/tmp/lagbid-bench.$UID
# Exit status: 0, or 1 when a workload failed to run or a correctness check
# failed (hot task count, invariants), or (BENCH_STRICT=1) a target was missed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

# ---------------------------------------------------------------------------
# Outer part: install, stage, then run the benchmark as the runner user.
# ---------------------------------------------------------------------------
if [ "${1:-}" != "--inner" ]; then
	base=${BENCH_DIR:-/tmp/lagbid-bench.$(id -u).$(lagbid_slot)}
	mkdir -p "$base"
	install=${BENCH_INSTALL:-1}
	if [ "$(readlink /proc/$$/fd/9 2>/dev/null)" = ${LAGBID_LOCK:-/tmp/lagbid-install.lock} ]; then
		# called by scripts/test.sh, which installed lagbid and holds the lock
		install=0
	elif [ "$(id -u)" -ne 0 ] && [ ! -w "$("$PG_CONFIG" --pkglibdir)" ] && ! sudo -n true 2>/dev/null; then
		echo "bench: cannot install as $(id -un); using the installed lagbid" >&2
		install=0
	fi
	if [ "$install" != 0 ]; then
		[ "$(id -u)" -ne 0 ] || bash "$here/scripts/deps.sh" libpq-dev
		# One PostgreSQL installation is shared by every checkout: install under
		# the lock, then keep it shared while the benchmark runs so that nobody
		# swaps lagbid.so under the measurements (make test waits for us).
		exec 9>${LAGBID_LOCK:-/tmp/lagbid-install.lock}
		flock -w 3600 9
		tries=0
		until build_and_install "$here"; do
			tries=$((tries + 1))
			if [ $tries -ge "${BENCH_INSTALL_TRIES:-5}" ]; then
				echo "bench: build failed $tries times; giving up" >&2
				exit 1
			fi
			echo "bench: build failed (mid-edit?); retrying in 60 s" >&2
			flock -u 9
			sleep 60
			flock -w 3600 9
		done
		flock -s 9
	fi
	tree=$base/tree
	stage_tree "$here" "$tree"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$base"; fi
	as_runner env BENCH_DIR="$base" \
		BENCH_SECONDS="${BENCH_SECONDS:-}" BENCH_ROUNDS="${BENCH_ROUNDS:-}" \
		BENCH_CLIENTS="${BENCH_CLIENTS:-}" BENCH_QUICK="${BENCH_QUICK:-}" \
		BENCH_SCALE="${BENCH_SCALE:-}" BENCH_SCALE_TASKS="${BENCH_SCALE_TASKS:-}" \
		BENCH_SCALE_SPACES="${BENCH_SCALE_SPACES:-}" BENCH_MEMORY_CALLS="${BENCH_MEMORY_CALLS:-}" \
		BENCH_PROFILE="${BENCH_PROFILE:-}" BENCH_STRICT="${BENCH_STRICT:-}" \
		BENCH_KEEP="${BENCH_KEEP:-}" BENCH_PORT="${BENCH_PORT:-}" \
		bash "$tree/bench/run.sh" --inner
	exit $?
fi

# ---------------------------------------------------------------------------
# Inner part (the runner user, in the staged tree).
# ---------------------------------------------------------------------------
base=$BENCH_DIR
cluster=$base/cluster
results=$base/results
port=${BENCH_PORT:-$((56200 + 3 * $(lagbid_slot)))}
db=lagbid_bench
cd "$here"

quick=${BENCH_QUICK:-0}
[ -n "$quick" ] || quick=0
if [ "$quick" = 1 ]; then
	secs=${BENCH_SECONDS:-2}; rounds=${BENCH_ROUNDS:-1}
	nproviders=2000; ntasks=200; pgscale=2
	memory_calls=${BENCH_MEMORY_CALLS:-5000}
else
	secs=${BENCH_SECONDS:-10}; rounds=${BENCH_ROUNDS:-3}
	nproviders=10000; ntasks=2000; pgscale=16
	memory_calls=${BENCH_MEMORY_CALLS:-1000000}
fi
[ -n "$secs" ] || secs=10
[ -n "$rounds" ] || rounds=3
clients=${BENCH_CLIENTS:-16}; [ -n "$clients" ] || clients=16
nowners=300; nhot=200
scale_tasks=${BENCH_SCALE_TASKS:-1000000}; [ -n "$scale_tasks" ] || scale_tasks=1000000
scale_spaces=${BENCH_SCALE_SPACES:-1000000}; [ -n "$scale_spaces" ] || scale_spaces=1000000
jobs=2

rm -rf "$results"; mkdir -p "$results"
log=$results/run.log
say() { echo "bench: $(date +%T) $*" | tee -a "$log" >&2; }

psql_() { psql -X -q -h "$cluster" -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }
val() { psql_ -At -c "$1"; }

# pgbench_run NAME [pgbench args]: runs pgbench, keeps its output in
# results/NAME.out, prints the tps (or ERROR when a client aborted)
pgbench_run() {
	local name=$1 out rc=0
	shift
	out=$results/$name.out
	pgbench -h "$cluster" -p "$port" -U postgres -n -M prepared "$@" "$db" >"$out" 2>&1 || rc=$?
	if [ $rc -ne 0 ] || grep -qE 'aborted|^pgbench: error' "$out"; then
		echo ERROR
		grep -m3 -E 'error|ERROR' "$out" | sed 's/^/    /' >>"$log"
	else
		sed -n 's/^tps = \([0-9]*\).*/\1/p' "$out"
	fi
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "ERROR"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# percentile P FILE: the P-th percentile (0-100) of the numbers in FILE
percentile() { sort -g "$2" | awk -v p="$1" '{v[NR]=$1} END {if (NR==0) {print "NaN"; exit} i=int(NR*p/100+0.999999); if (i<1) i=1; if (i>NR) i=NR; printf "%.3f\n", v[i]}'; }

# ------------------------------------------------------------------ cluster
stop_cluster() { bash scripts/cluster.sh stop "$cluster"; }
stop_cluster 2>/dev/null || true
rm -rf "$cluster" "$cluster.initdb.log"
bash scripts/cluster.sh start "$cluster" "$port" "$db"
cat >>"$cluster/postgresql.conf" <<CONF
# bench/run.sh
shared_buffers = 1GB
max_connections = 300
synchronous_commit = on
shared_preload_libraries = 'pg_cron,pg_stat_statements'
pg_stat_statements.track = none
pg_stat_statements.max = 5000
max_wal_size = 8GB
checkpoint_timeout = 30min
log_min_messages = warning
CONF
pg_ctl -D "$cluster" -l "$cluster/server.log" -w -t 60 restart >/dev/null 9>&-
if [ -z "${BENCH_KEEP:-}" ]; then trap stop_cluster EXIT; fi
# (cluster.sh also sets fsync = off: this measures CPU and locking, not disks)

load_start=$(cut -d' ' -f1 /proc/loadavg)
say "$(date -u +%FT%TZ): cluster on port $port, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
say "setup: $nproviders providers, $ntasks open tasks, pgbench scale $pgscale"
psql_ -v nproviders=$nproviders -v ntasks=$ntasks -v nowners=$nowners -v nhot=$nhot -f bench/setup.sql
pgbench -h "$cluster" -p "$port" -U postgres -i -q -s $pgscale "$db" >"$results/pgbench-init.out" 2>&1
say "lagbid $(val 'SELECT lagbid.version()'), tick() $( [ -n "$(val "SELECT to_regproc('lagbid.tick')")" ] && echo present || echo absent)"

# (a relocated PostgreSQL copy may lack libpq's headers: then the system's)
pq_inc=$(pg_config --includedir)
[ -f "$pq_inc/libpq-fe.h" ] || pq_inc=$(pkg-config --variable=includedir libpq 2>/dev/null || echo /usr/include/postgresql)
cc -O2 -Wall -o "$base/listener" bench/listener.c -I"$pq_inc" \
	-L"$(pg_config --libdir)" -lpq

vars=(-D ntasks=$ntasks -D nproviders=$nproviders)

# ------------------------------------------------- throughput, alternating
declare -A tps
for w in simple_update place_bid app_bid lifecycle rowwork; do tps[$w]=""; done
# workload_run NAME W SECONDS: one pgbench run of throughput workload W
workload_run() {
	local name=$1 w=$2 t=$3
	case $w in
	simple_update) pgbench_run "$name" -c "$clients" -j $jobs -T "$t" -N ;;
	*)             pgbench_run "$name" -c "$clients" -j $jobs -T "$t" "${vars[@]}" -f "bench/$w.sql" ;;
	esac
}
run_workload() {
	local w=$1 r=$2 t
	t=$(workload_run "$w.$r" "$w" "$secs")
	say "round $r $w: $t tps"
	tps[$w]="${tps[$w]} $t"
}
order=(simple_update place_bid app_bid lifecycle rowwork)
# warm-up, not counted: every workload once for a few seconds, so that round
# 1 does not pay for cold caches and the first autovacuum/autoanalyze of the
# tables the workloads fill (it ran at half speed without this)
warm=$(( secs < 5 ? 1 : 5 ))
for w in "${order[@]}"; do workload_run "warmup.$w" "$w" "$warm" >/dev/null; done
psql_ -c "VACUUM ANALYZE" -c "CHECKPOINT"
say "warm-up: every workload ${warm} s, then VACUUM ANALYZE and CHECKPOINT"
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then ws=("${order[@]}"); else ws=(rowwork lifecycle app_bid place_bid simple_update); fi
	for w in "${ws[@]}"; do run_workload "$w" "$r"; done
done

med() { local v=${tps[$1]}; if [[ $v == *ERROR* ]]; then echo ERROR; else echo "$v" | median; fi; }
m_simple=$(med simple_update); m_bid=$(med place_bid); m_app=$(med app_bid); m_life=$(med lifecycle)
m_row=$(med rowwork)

# ---------------------------------------------------------------- hot task
# nhot providers race for one task with bid_limit 100: exactly 100 bids get in
hot_ok=1; hot_close=""; hot_detail=""
publish_hot() {
	val "SELECT lagbid.publish_task(owner => 'owner-0', resources => '{\"cpu\": 2}',
	     price_min => 1, price_max => 10, duration_hours => 1, region => 'eu',
	     bid_limit => 100, replicas => 1, auto_allocate => true)"
}
# hot_check TASK: "ok|refused|other|outcomes|bids|state|close_ms" for one raced task
hot_check() {
	val "SELECT count(*) FILTER (WHERE outcome = 'ok'),
	            count(*) FILTER (WHERE outcome = 'LB302'),
	            count(*) FILTER (WHERE outcome NOT IN ('ok', 'LB302')),
	            string_agg(DISTINCT outcome, ','),
	            (SELECT count(*) FROM lagbid.bid WHERE task_id = $1),
	            (SELECT state FROM lagbid.task WHERE id = $1),
	            round(extract(epoch FROM max(at) FILTER (WHERE outcome = 'ok')
	                  - (SELECT min(placed_at) FROM lagbid.bid WHERE task_id = $1)) * 1000, 1)
	       FROM bench.hot_result WHERE task_id = $1"
}
hc=50
for r in $(seq 1 "$rounds"); do
	val "SELECT setval('bench.hot_seq', 1, false)" >/dev/null
	warm_base=$(val "SELECT min(lagbid.publish_task(owner => 'owner-0', resources => '{}', price_min => 1,
	                 price_max => 10, duration_hours => 1, bid_limit => 10, auto_allocate => false))
	                   FROM generate_series(1, $hc)")
	task=$(publish_hot)
	t0=$(date +%s%N)
	t=$(pgbench_run "hot_task.$r" -c $hc -j $jobs -t $((1 + nhot / hc)) -D i=0 -D warm_base="$warm_base" \
		-D task="$task" -D first_provider=$((nproviders + 1)) -f bench/hot_bid.sql)
	t1=$(date +%s%N)
	IFS='|' read -r ok refused other outcomes bids state close_ms < <(hot_check "$task")
	say "hot round $r: task $task $state, $bids bids, $ok accepted, $refused refused (LB302), $other other ($outcomes), bidding closed ${close_ms} ms after the first bid (pgbench wall $(((t1 - t0) / 1000000)) ms with connections)"
	if [ "$t" = ERROR ] || [ "$bids" != 100 ] || [ "$ok" != 100 ] || [ "$refused" != $((nhot - 100)) ] || [ "$other" != 0 ]; then
		hot_ok=0
	fi
	hot_close="$hot_close $close_ms"
	hot_detail="$bids bids, $ok ok / $refused LB302 / $other other"
done
say "check_invariants() over the whole market ..."
broken=$(val "SELECT count(*) FROM lagbid.check_invariants()")
if [ "$broken" != 0 ]; then
	hot_ok=0
	psql_ -c "SELECT * FROM lagbid.check_invariants() LIMIT 20" >>"$log"
fi
say "check_invariants(): $broken broken"
m_hot_close=$(echo "$hot_close" | median)

# ------------------------------------------------------------------ notify
# commit timestamps split the latency into "in the transaction" (outbox row
# written -> commit) and "delivery" (commit -> the listener has it)
val "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null
pg_ctl -D "$cluster" -l "$cluster/server.log" -w -t 60 restart >/dev/null 9>&-
notify_secs=$secs
# listened_run NAME CHANNEL SCRIPT TABLE: pgbench SCRIPT at 200 transactions/s
# while bench/listener.c, listening on CHANNEL, records what it receives
# (copied into TABLE); prints the tps
listened_run() {
	local name=$1 channel=$2 script=$3 table=$4 lpid t
	"$base/listener" "host=$cluster port=$port user=postgres dbname=$db" $((notify_secs + 30)) "$channel" \
		>"$results/$name.recv" 2>"$results/$name.listener.err" &
	lpid=$!
	for _ in $(seq 1 50); do grep -q ready "$results/$name.listener.err" 2>/dev/null && break; sleep 0.1; done
	t=$(pgbench_run "$name" -c 4 -j $jobs -R 200 -T "$notify_secs" "${vars[@]}" -f "$script")
	sleep 1
	kill "$lpid" 2>/dev/null || true
	wait "$lpid" 2>/dev/null || true
	psql_ -c "\\copy $table FROM '$results/$name.recv'" >/dev/null
	echo "$t"
}
nfrom=$(val "SELECT coalesce(max(id), 0) FROM lagbid.notification")
t=$(listened_run notify lagbid bench/notify.sql bench.notify_recv)
IFS='|' read -r n_sent n_recv n_p50 n_p99 n_max d_p50 d_p99 < <(val "
	WITH sent AS (SELECT id, created_at, pg_xact_commit_timestamp(xmin) AS committed_at
	                FROM lagbid.notification WHERE id > $nfrom AND kind = 'bid_won'),
	     lat AS (SELECT extract(epoch FROM to_timestamp(r.received_us / 1e6) - s.created_at) * 1000 AS ms,
	                    extract(epoch FROM to_timestamp(r.received_us / 1e6) - s.committed_at) * 1000 AS delivery_ms
	               FROM sent s JOIN bench.notify_recv r ON r.id = s.id)
	SELECT (SELECT count(*) FROM sent), count(*),
	       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3),
	       round(max(ms)::numeric, 3),
	       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY delivery_ms)::numeric, 3),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY delivery_ms)::numeric, 3)
	  FROM lat")
[ "$t" != ERROR ] || n_p99=ERROR
say "notify: $n_recv of $n_sent bid_won notices received; outbox row -> listener: p50 $n_p50 ms, p99 $n_p99 ms, max $n_max ms; commit -> listener: p50 $d_p50 ms, p99 $d_p99 ms"

# --------------------------------------------------------------- task push
# NOTIFY lagbid_tasks (issue 13): a published task reaches a listening
# provider; from the publishing transaction's start (task.created_at) and
# from its commit
tfrom=$(val "SELECT coalesce(max(id), 0) FROM lagbid.task")
t=$(listened_run task_push lagbid_tasks bench/task_push.sql bench.task_push_recv)
IFS='|' read -r p_sent p_recv p_p50 p_p99 p_dp99 < <(val "
	WITH sent AS (SELECT id, created_at, pg_xact_commit_timestamp(xmin) AS committed_at
	                FROM lagbid.task WHERE id > $tfrom AND state = 'accepting_bids'),
	     lat AS (SELECT extract(epoch FROM to_timestamp(r.received_us / 1e6) - s.created_at) * 1000 AS ms,
	                    extract(epoch FROM to_timestamp(r.received_us / 1e6) - s.committed_at) * 1000 AS delivery_ms
	               FROM sent s JOIN bench.task_push_recv r ON r.task_id = s.id)
	SELECT (SELECT count(*) FROM sent), count(*),
	       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY delivery_ms)::numeric, 3)
	  FROM lat")
[ "$t" != ERROR ] || p_p99=ERROR
say "task push: $p_recv of $p_sent published tasks received on lagbid_tasks; publish -> listener: p50 $p_p50 ms, p99 $p_p99 ms; commit -> listener p99 $p_dp99 ms"

# ------------------------------------------------------------------ upload
# upload_result with a 1 MB result (stored and hashed in the database)
# against the same lifecycle with a claimed hash (submit_result), alternating
up_tps=""; sub_tps=""
for r in $(seq 1 "$rounds"); do
	t=$(pgbench_run "submit.$r" -c 4 -j $jobs -T "$secs" "${vars[@]}" -f bench/submit.sql)
	sub_tps="$sub_tps $t"
	t=$(pgbench_run "upload.$r" -c 4 -j $jobs -T "$secs" "${vars[@]}" -f bench/upload.sql)
	up_tps="$up_tps $t"
	say "round $r upload: 1 MB upload_result $t tps, claimed submit_result ${sub_tps##* } tps (publish + bid + result, 4 clients)"
done
if [[ $up_tps == *ERROR* ]]; then m_up=ERROR; else m_up=$(echo "$up_tps" | median); fi
if [[ $sub_tps == *ERROR* ]]; then m_sub=ERROR; else m_sub=$(echo "$sub_tps" | median); fi
# the last 100 stored results: each job's hash is the blob's, as SQL computes it
up_ok=$(val "SELECT count(*) FILTER (WHERE j.result_hash = 'sha256:' || encode(sha256(b.content), 'hex')
                                      AND j.result_hash = 'sha256:' || r.sha256) || '/' || count(*)
               FROM (SELECT job_id, sha256 FROM lagbid.result ORDER BY job_id DESC LIMIT 100) r
               JOIN lagbid.job j ON j.id = r.job_id, bench.blob b")

# ------------------------------------------------------------------ memory
every=$((memory_calls / 10)); [ $every -ge 1 ] || every=1
t=$(pgbench_run memory -c 1 -j 1 -t "$memory_calls" "${vars[@]}" -D i=0 -D calls="$memory_calls" \
	-D sample_every=$every -f bench/memory.sql)
psql_ -c "SELECT calls, context_bytes, rss_anon_kb FROM bench.memory_sample ORDER BY calls" >"$results/memory.txt"
IFS='|' read -r mem_warm mem_end rss_warm rss_end < <(val "
	SELECT (array_agg(context_bytes ORDER BY calls))[2], (array_agg(context_bytes ORDER BY calls DESC))[1],
	       (array_agg(rss_anon_kb ORDER BY calls))[2], (array_agg(rss_anon_kb ORDER BY calls DESC))[1]
	  FROM bench.memory_sample")
if [ "$t" = ERROR ] || [ -z "$mem_end" ]; then
	mem_growth=ERROR
else
	mem_growth=$(((mem_end - mem_warm) / 1024))
	rss_growth=$((rss_end - rss_warm))
fi
say "memory: $memory_calls place_bid calls in one backend ($t tps): contexts $((${mem_warm:-0} / 1024)) kB after $every calls, $((${mem_end:-0} / 1024)) kB at the end (+$mem_growth kB); RssAnon ${rss_warm:-?} -> ${rss_end:-?} kB"

# ----------------------------------------------------------------- profile
if [ "${BENCH_PROFILE:-}" = 1 ]; then
	for w in place_bid lifecycle; do
		val "SELECT pg_stat_statements_reset()" >/dev/null
		PGOPTIONS="-c pg_stat_statements.track=all" workload_run "profile.$w" "$w" "$secs" >/dev/null
		psql_ -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
		                 round(mean_exec_time::numeric, 3) AS mean_ms, shared_blks_hit / calls AS blks_per_call,
		                 left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement
		            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" >"$results/profile.$w.txt"
		say "profile of $w: $results/profile.$w.txt"
	done
fi

# ------------------------------------------------------------------- scale
tick_med=""; tick_p99=""; ot_p99=""; ot_med=""; tick_prop=""
declare -A tick_changed tick_changed_n
scale_live=$((scale_spaces / 100))    # the 1% that are real, funded spaces
if [ "${BENCH_SCALE:-}" = 1 ]; then
	say "scale: loading $scale_tasks open tasks (+ $scale_spaces spaces) ..."
	s0=$(date +%s)
	psql_ -v scale_tasks="$scale_tasks" -v scale_spaces="$((scale_spaces - scale_live))" \
		-v scale_live="$scale_live" -f bench/scale_load.sql
	say "scale: loaded in $(($(date +%s) - s0)) s; $(val "SELECT count(*) FROM lagbid.task WHERE state = 'accepting_bids'") open tasks"
	if [ -n "$(val "SELECT to_regproc('lagbid.tick')")" ]; then
		val "SET lagbid.tick_batch_size = 1000000; SELECT lagbid.tick()" >"$results/tick.first.json"
		say "scale: first tick(): $(cat "$results/tick.first.json")"
		(cd "$results" && pgbench -h "$cluster" -p "$port" -U postgres -n -M prepared -c 1 -j 1 -t 50 \
			-l --log-prefix=tick -f "$here/bench/tick.sql" "$db" >"$results/tick.out" 2>&1) || true
		awk '{print $3 / 1000}' "$results"/tick.[0-9]* >"$results/tick.ms"
		tick_med=$(percentile 50 "$results/tick.ms"); tick_p99=$(percentile 99 "$results/tick.ms")
		say "scale: tick() with nothing to do: median $tick_med ms, p99 $tick_p99 ms (50 calls)"
		# 1% of the spaces change (update_space: a new price_min, nothing to
		# pay), then 0.5%: one tick each (batch size raised so one tick takes
		# them all); its time should follow the number changed, not the
		# 1,000,000 that did not change
		# (k = 1: all live spaces, the 1%; k = 2: half of them, each with a
		# new price_min so that it is a change again)
		for k in 1 2; do
			n=$((scale_live / k))
			val "SELECT count(lagbid.update_space(id, price_min => 1 + $k))
			       FROM (SELECT space_id AS id FROM bench.scale_live_space ORDER BY space_id LIMIT $n) s" >/dev/null
			t0=$(date +%s%N)
			val "SET lagbid.tick_batch_size = 1000000; SELECT lagbid.tick()" >"$results/tick.changed.$n.json"
			t1=$(date +%s%N)
			tick_changed[$k]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
			tick_changed_n[$k]=$n
			say "scale: tick() with $n spaces changed ($(awk -v n=$n -v t=$scale_spaces 'BEGIN { printf "%.2f", 100 * n / t }')%): ${tick_changed[$k]} ms, $(awk -v ms="${tick_changed[$k]}" -v n=$n 'BEGIN { printf "%.3f", ms / n }') ms per changed space; $(cat "$results/tick.changed.$n.json")"
		done
		tick_prop=$(awk -v a="${tick_changed[1]}" -v b="${tick_changed[2]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NaN" }')
		say "scale: time(1%) / time(0.5%) = $tick_prop (proportional: 2)"
		val "SELECT pg_stat_statements_reset()" >/dev/null
		PGOPTIONS="-c pg_stat_statements.track=all" psql_ -c "SELECT lagbid.tick()" -c "SELECT lagbid.tick()" >/dev/null
		psql_ -c "SELECT calls, round(total_exec_time::numeric, 2) AS total_ms, rows,
		                 left(regexp_replace(query, '\s+', ' ', 'g'), 140) AS statement
		            FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
		           ORDER BY total_exec_time DESC LIMIT 15" >"$results/profile.tick.txt"
	else
		tick_med=n/a
		say "scale: lagbid.tick() does not exist; skipped"
	fi
	# "the tasks I can bid on": lagbid_api.open_tasks as PostgREST calls it,
	# else the plain query (bench.open_tasks_plain); timed in the server
	if [ "$(val "SELECT to_regproc('lagbid_api.open_tasks') IS NOT NULL")" = t ]; then
		use_api=true; ot_what="lagbid_api.open_tasks(50)"
	else
		use_api=false; ot_what="bench.open_tasks_plain()"
	fi
	ot_calls=3000; [ "$quick" != 1 ] || ot_calls=300
	val "SELECT count(*) FROM bench.time_open_tasks(20, $use_api)" >/dev/null   # warm the caches
	psql_ -c "\\copy (SELECT * FROM bench.time_open_tasks($ot_calls, $use_api)) TO '$results/open_tasks.ms'"
	ot_med=$(percentile 50 "$results/open_tasks.ms"); ot_p99=$(percentile 99 "$results/open_tasks.ms")
	say "scale: $ot_what for random providers: median $ot_med ms, p99 $ot_p99 ms ($(wc -l <"$results/open_tasks.ms") calls)"
	# its plan (auto_explain of the nested query) for a 16-cpu provider in eu-west-1
	node=$(val "SELECT v.node_id FROM lagbid.provider v JOIN bench.scale_provider s ON s.id = v.id
	            WHERE v.region = 'eu-west-1' AND v.gpu IS NULL ORDER BY v.cpu DESC, v.id LIMIT 1")
	logsize=$(stat -c %s "$cluster/server.log")
	if [ "$use_api" = true ]; then
		call="SELECT set_config('lagbid.authenticators', session_user, true),
		             set_config('request.jwt.claims', json_build_object('role', 'lagbid_provider', 'sub', '$node')::text, true);
		      SET LOCAL ROLE lagbid_provider; SELECT count(*) FROM lagbid_api.open_tasks(50);"
	else
		call="SELECT count(*) FROM lagbid.provider v, bench.open_tasks_plain(v, 50) o WHERE v.node_id = '$node';"
	fi
	psql_ >/dev/null <<SQL
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_nested_statements = on;
BEGIN;
$call
COMMIT;
SQL
	sleep 0.5
	tail -c +$((logsize + 1)) "$cluster/server.log" | awk '
		/LOG:  duration: .* plan:/ { if (buf ~ /FROM lagbid\.task/) print buf; buf = $0 "\n"; next }
		/^\t/ { if (buf != "") buf = buf $0 "\n"; next }
		{ if (buf ~ /FROM lagbid\.task/) print buf; buf = "" }
		END { if (buf ~ /FROM lagbid\.task/) print buf }' >"$results/explain_open_tasks.txt"
	say "scale: plan of $ot_what: $results/explain_open_tasks.txt"
fi

# ------------------------------------------------------------------- table
pass=0; miss=0; errors=0
rows=()
row() { rows+=("$(printf '%-22s %-26s %12s %12s %8s %-10s %s' "$@")"); }
judge() { # judge VALUE OP LIMIT -> PASS / MISS / ERROR
	case $1 in ''|ERROR|NaN) echo ERROR; return ;; esac
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? (v >= l) : (op == "<=") ? (v <= l) : (v < l); print ok ? "PASS" : "MISS" }'
}
ratio() { case "$1$2" in *ERROR*|'') echo ERROR ;; *) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }' ;; esac; }
round_ratios() { # round_ratios W B: W's tps over B's, round by round
	paste -d' ' <(echo ${tps[$1]} | tr ' ' '\n') <(echo ${tps[$2]} | tr ' ' '\n') |
		awk '{ if ($1 ~ /^[0-9.]+$/ && $2 ~ /^[0-9.]+$/ && $2 > 0) printf " %.2f", $1 / $2; else printf " ERROR" }'
}
count() { case $1 in PASS) pass=$((pass + 1)) ;; MISS) miss=$((miss + 1)) ;; *) errors=$((errors + 1)) ;; esac; }

r1=$(ratio "$m_bid" "$m_simple"); j1=$(judge "$r1" ">=" 0.9); count "$j1"
row "1 place_bid" "pgbench -N (simple-update)" "$m_bid" "$m_simple" "$r1" ">= 0.90" "$j1"
r2=$(ratio "$m_bid" "$m_app"); j2=$(judge "$r2" ">=" 2); count "$j2"
row "2 place_bid" "app-side checks (8 trips)" "$m_bid" "$m_app" "$r2" ">= 2.00" "$j2"
r3=$(ratio "$m_life" "$m_simple"); j3=$(judge "$r3" ">=" 0.25); count "$j3"
row "3 lifecycle" "pgbench -N (simple-update)" "$m_life" "$m_simple" "$r3" ">= 0.25" "$j3"
# issue 15: the lifecycle against the same row work in plain SQL (bench/rowwork.sql),
# and its cost in bids (place_bid tps / lifecycle tps, the same run)
r3b=$(ratio "$m_life" "$m_row"); j3b=$(judge "$r3b" ">=" 0.8); count "$j3b"
row "3b lifecycle" "row work, plain SQL" "$m_life" "$m_row" "$r3b" ">= 0.80" "$j3b"
r3c=$(ratio "$m_bid" "$m_life"); j3c=$(judge "$r3c" "<=" 10); count "$j3c"
row "3c lifecycle in bids" "place_bid tps / lifecycle tps" "$m_bid" "$m_life" "$r3c" "<= 10" "$j3c"
if [ $hot_ok = 1 ]; then j4=PASS; else j4=ERROR; fi; count "$j4"
row "4 hot task (close ms)" "exactly 100 of $nhot bids" "$m_hot_close" "-" "-" "=100, inv" "$j4 ($hot_detail; $broken broken invariants)"
if [ "${BENCH_SCALE:-}" = 1 ]; then
	if [ "$tick_med" = n/a ]; then j5a="n/a"; else j5a=$(judge "$tick_p99" "<=" 50); count "$j5a"; fi
	row "5a tick() ms, p99" "$scale_tasks open tasks" "$tick_p99" "p50 $tick_med" "-" "<= 50 ms" "$j5a"
	j5b=$(judge "$ot_p99" "<=" 2); count "$j5b"
	row "5b open tasks ms, p99" "$ot_what" "$ot_p99" "p50 $ot_med" "-" "<= 2 ms" "$j5b"
	if [ "$tick_med" = n/a ]; then j5c="n/a"
	else j5c=$(awk -v r="$tick_prop" 'BEGIN { if (r !~ /^[0-9.]+$/) print "ERROR"; else print (r >= 1.5 && r <= 2.5) ? "PASS" : "MISS" }'); count "$j5c"; fi
	row "5c tick() ms, 1% changed" "the same, 0.5% changed" "${tick_changed[1]}" "${tick_changed[2]}" "$tick_prop" "~2 (1.5-2.5)" "$j5c (${tick_changed_n[1]} and ${tick_changed_n[2]} spaces republished)"
else
	row "5 scale" "(BENCH_SCALE=1)" "-" "-" "-" "-" "skipped"
fi
if [ "$n_p99" = ERROR ] || [ -z "$n_p99" ] || [ "${n_recv:-0}" = 0 ]; then j6=ERROR; else j6=$(judge "$n_p99" "<" 5); fi
[ "${n_recv:-0}" = "${n_sent:-x}" ] || [ "$j6" = ERROR ] || j6="$j6 (lost $((n_sent - n_recv)))"
count "${j6%% *}"
row "6 NOTIFY ms, p99" "bid_won, 200/s" "$n_p99" "p50 $n_p50" "-" "< 5 ms" "$j6 (commit->listener p99 $d_p99)"
if [ "$mem_growth" = ERROR ]; then j7=ERROR
elif [ "$mem_growth" -le 1024 ] && [ "$rss_growth" -le 8192 ]; then j7=PASS; else j7=MISS; fi
count "$j7"
row "7 memory growth kB" "$memory_calls place_bid calls" "+$mem_growth" "rss +${rss_growth:-?}" "-" "flat" "$j7"
# 8: information, no target; an upload that failed to run is an error
r8=$(ratio "$m_up" "$m_sub")
if [ "$r8" = ERROR ]; then j8=ERROR; count ERROR; else j8=info; fi
row "8 upload_result 1 MB" "submit_result (claimed)" "$m_up" "$m_sub" "$r8" "-" "$j8 ($up_ok stored hashes verified)"
if [ "$p_p99" = ERROR ] || [ -z "$p_p99" ] || [ "${p_recv:-0}" = 0 ]; then j9=ERROR; else j9=$(judge "$p_p99" "<" 5); fi
[ "${p_recv:-0}" = "${p_sent:-x}" ] || [ "$j9" = ERROR ] || j9="$j9 (lost $((p_sent - p_recv)))"
count "${j9%% *}"
row "9 task push ms, p99" "lagbid_tasks, 200/s" "$p_p99" "p50 $p_p50" "-" "< 5 ms" "$j9 (commit->listener p99 $p_dp99)"

{
	echo
	printf '%-22s %-26s %12s %12s %8s %-10s %s\n' workload baseline "median" "baseline" ratio target result
	printf '%s\n' "${rows[@]}"
	echo
	echo "($rounds rounds x $secs s, $clients clients, $(nproc) cores; load at end $(cut -d' ' -f1-3 /proc/loadavg); tps medians; raw: $results)"
	echo "rounds: -N [${tps[simple_update]} ] place_bid [${tps[place_bid]} ] app [${tps[app_bid]} ] lifecycle [${tps[lifecycle]} ] rowwork [${tps[rowwork]} ]"
	echo "per-round ratios: place_bid/-N [$(round_ratios place_bid simple_update) ] place_bid/app [$(round_ratios place_bid app_bid) ] lifecycle/-N [$(round_ratios lifecycle simple_update) ] lifecycle/rowwork [$(round_ratios lifecycle rowwork) ] place_bid/lifecycle [$(round_ratios place_bid lifecycle) ]"
	awk -v r="$r1" 'BEGIN { if (r ~ /^[0-9.]+$/) printf "bound on 3: a lifecycle makes 3 place_bid calls, so lifecycle/-N <= (place_bid/-N)/3 = %.3f even if publish, submit and finalize cost nothing\n", r / 3 }'
	awk -v l="$load_start" -v n="$(nproc)" 'BEGIN { if (l > n / 2) printf "WARNING: load average %s on %s cores before the run started: other work shared the CPUs; compare ratios, not absolute tps\n", l, n }'
	echo "bench: $pass PASS, $miss MISS, $errors ERROR"
} | tee "$results/table.txt"

if [ "$quick" = 1 ]; then
	# TAP for the test suite: every workload ran and every correctness check held
	n=0; echo "1..10"
	for w in "simple_update $m_simple" "place_bid $m_bid" "app_bid $m_app" "lifecycle $m_life" "rowwork $m_row" \
		"hot_task $j4" "notify $j6" "memory $j7" "upload $j8" "task_push $j9"; do
		n=$((n + 1)); set -- $w
		case $2 in ERROR*) echo "not ok $n - $1" ;; *) echo "ok $n - $1 ran" ;; esac
	done
fi

[ $errors -eq 0 ] || exit 1
[ "${BENCH_STRICT:-}" != 1 ] || [ $miss -eq 0 ] || exit 1
exit 0

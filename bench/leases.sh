#!/usr/bin/env bash
# Settlement of service leases in one tick (issue 21: target <= 1 s for
# 10,000 leases).  A benchmark, not a test: it prints the time of each
# measured tick and their median, and fails only when a run fails or the
# invariants break.
#
# A throwaway cluster (as the postgres user when run as root) on port 56250:
# BENCH_LEASES service spaces (default 10,000) of 10 owners, each with its
# lease ready at the same market time and a 60 s probe window, on 100
# providers; probers assigned by the first tick.
# Then ROUNDS times: the market clock moves one window on and one tick runs:
# it settles every lease's closed window (nobody reported: unprobed, paid as
# up, each assigned prober counted as missed) and assigns the next window's
# probers.  The tick's own time is printed (clock_timestamp around it).
#
#   BENCH_LEASES=10000 BENCH_ROUNDS=5 bash bench/leases.sh
#   (PG_CONFIG as for make; the installed lagbid is used: make install first)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
if [ "${1:-}" != "--inner" ]; then
	stage=${BENCH_DIR:-/tmp/lagbid-bench-leases.$(id -u).$(lagbid_slot)}
	stage_tree "$here" "$stage"
	as_runner env BENCH_KEEP="${BENCH_KEEP:-}" BENCH_LEASES="${BENCH_LEASES:-10000}" \
		BENCH_ROUNDS="${BENCH_ROUNDS:-5}" BENCH_PROBERS="${BENCH_PROBERS:-3}" \
		BENCH_PORT="${BENCH_PORT:-$((56250 + $(lagbid_slot)))}" \
		bash "$stage/bench/leases.sh" --inner
	exit $?
fi

cd "$here"
dir=$here/.cluster; port=$BENCH_PORT; db=lagbid_bench
nleases=$BENCH_LEASES; rounds=$BENCH_ROUNDS; nproviders=100; nowners=10
rm -rf "$dir" "$dir.initdb.log"
bash scripts/cluster.sh start "$dir" "$port" "$db"
[ -n "${BENCH_KEEP:-}" ] || trap 'bash scripts/cluster.sh stop "$dir"' EXIT
psql_() { psql -X -q -h "$dir" -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }
psql_ -o /dev/null -c "CREATE EXTENSION lagbid"
psql_ -c "ALTER DATABASE $db SET lagbid.probe_window = 60" \
      -c "ALTER DATABASE $db SET lagbid.probers_per_window = $BENCH_PROBERS" \
      -c "ALTER DATABASE $db SET lagbid.tick_batch_size = $((nleases * 2))" \
      -c "ALTER DATABASE $db SET lagbid.max_open_tasks_per_owner = $nleases" \
      -c "ALTER DATABASE $db SET lagbid.max_spaces_per_owner = $nleases" \
      -c "ALTER DATABASE $db SET lagbid.clock = '2030-01-01 12:00:00+00'"
t0=$(date +%s)
psql_ -o /dev/null <<SQL
SELECT count(lagbid.deposit('owner-' || n, 1e12, 'bench-owner-' || n)) FROM generate_series(1, $nowners) n;
SELECT count(lagbid.register_provider(lagbid.peer_id_from_ed25519(sha256(n::text::bytea)),
                                      ARRAY['/ip4/10.1.' || (n / 250) || '.' || (n % 250) || '/tcp/4001'],
                                      'eu', '{"cpu": 64}', 100000))
  FROM generate_series(1, $nproviders) AS n;
-- each lease: a service space of one hour, published, one bid, allocated,
-- its endpoint reported
DO \$\$
DECLARE
    t bigint;
    j bigint;
BEGIN
    FOR i IN 1..$nleases LOOP
        t := lagbid.create_space('owner-' || (i % $nowners + 1), 'space-' || i, '{}', 1, 2, 1, kind => 'service',
                                 workload => '{"command": ["app"], "service": {"port": 8000}}');
        t := lagbid.trigger_space(t);
        PERFORM lagbid.place_bid(t, i % $nproviders + 1, 1.5);
        PERFORM lagbid.close_bidding(t);
        SELECT id INTO j FROM lagbid.job WHERE task_id = t;
        PERFORM lagbid.report_endpoint(j, 'http://10.1.' || ((i % $nproviders + 1) / 250) || '.'
                                          || ((i % $nproviders + 1) % 250) || '/l/' || lagbid.lease_name(j) || '/');
    END LOOP;
END \$\$;
SQL
echo "setup: $nleases ready leases, $nproviders providers, $nowners owners in $(( $(date +%s) - t0 )) s"
psql_ -o /dev/null -c "VACUUM ANALYZE" -c "CHECKPOINT"
# the first tick assigns the first window's probers
psql_ -At -c "SELECT 'first tick (assigns probers only): ' || (lagbid.tick() ->> 'probes_assigned') || ' probes'"

times=()
for r in $(seq 1 "$rounds"); do
	out=$(psql_ -At <<SQL
SET lagbid.clock = '2030-01-01 12:0$r:00+00';
SELECT set_config('bench.t', clock_timestamp()::text, false) \g /dev/null
SELECT lagbid.tick() AS tick \gset
SELECT round(extract(epoch FROM clock_timestamp() - current_setting('bench.t')::timestamptz) * 1000, 1)
       || ' ' || (:'tick'::jsonb ->> 'windows_settled') || ' ' || (:'tick'::jsonb ->> 'probes_assigned')
       || ' ' || (:'tick'::jsonb ->> 'deferred') || ' ' || (:'tick'::jsonb ->> 'failed');
SQL
)
	read -r ms settled assigned deferred failed <<<"$out"
	echo "round $r: tick ${ms} ms: $settled windows settled, $assigned probes assigned (deferred $deferred, failed $failed)"
	[ "$settled" = "$nleases" ] || { echo "bench: only $settled of $nleases windows settled" >&2; exit 1; }
	times+=("$ms")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m=$(med "${times[@]}")
bad=$(psql_ -At -c "SELECT count(*) FROM lagbid.check_invariants()")
psql_ -At -c "SELECT 'lease windows: ' || count(*) || ', paid ' || sum(paid) || ', refunded ' || sum(refunded) FROM lagbid.lease_window"
echo "broken invariants: $bad"
awk -v m="$m" -v n="$nleases" 'BEGIN { printf "settlement: %d leases settled in one tick, median %.1f ms (target <= 1000 ms): %s\n", n, m, (m <= 1000) ? "PASS" : "MISS" }'
[ "$bad" = 0 ]

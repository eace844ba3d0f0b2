#!/usr/bin/env bash
# place_bid on a collateral task against place_bid on a plain task, in the
# same run (issue 20: target >= 0.9).  A benchmark, not a test: it prints the
# medians and the ratio, and fails only when a run fails.
#
# A throwaway cluster (as the postgres user when run as root) on port 56240:
# nproviders providers, each funded far beyond its bonds; tasks 1..ntasks
# plain, ntasks+1..2 ntasks with collateral_ratio 0.3, all open with a bid
# limit no run reaches.  pgbench runs bench/place_bid.sql (plain) and
# bench/collateral_bid.sql (collateral) alternately, ROUNDS times each.
#
#   BENCH_SECONDS=10 BENCH_ROUNDS=5 BENCH_CLIENTS=8 bash bench/collateral.sh
#   (PG_CONFIG as for make; the installed lagbid is used: make install first)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
if [ "${1:-}" != "--inner" ]; then
	stage=${BENCH_DIR:-/tmp/lagbid-bench-collateral.$(id -u)}
	stage_tree "$here" "$stage"
	as_runner env BENCH_KEEP="${BENCH_KEEP:-}" BENCH_SECONDS="${BENCH_SECONDS:-10}" BENCH_ROUNDS="${BENCH_ROUNDS:-5}" \
		BENCH_CLIENTS="${BENCH_CLIENTS:-8}" BENCH_PORT="${BENCH_PORT:-56240}" \
		bash "$stage/bench/collateral.sh" --inner
	exit $?
fi

cd "$here"
dir=$here/.cluster; port=$BENCH_PORT; db=lagbid_bench
secs=$BENCH_SECONDS; rounds=$BENCH_ROUNDS; clients=$BENCH_CLIENTS
ntasks=2000; nproviders=200
rm -rf "$dir" "$dir.initdb.log"
bash scripts/cluster.sh start "$dir" "$port" "$db"
[ -n "${BENCH_KEEP:-}" ] || trap 'bash scripts/cluster.sh stop "$dir"' EXIT
psql -X -q -h "$dir" -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -o /dev/null <<SQL
CREATE EXTENSION lagbid;
SQL
psql -X -q -h "$dir" -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -o /dev/null <<SQL
SELECT lagbid.deposit('bench-owner', 1e15, 'bench-owner');
SELECT count(lagbid.register_provider(lagbid.peer_id_from_ed25519(sha256(n::text::bytea)),
                                      ARRAY['/ip4/10.1.0.1/tcp/4001'], 'eu', '{"cpu": 64}', 100000))
  FROM generate_series(1, $nproviders) AS n;
SELECT count(lagbid.deposit(node_id, 1e12, 'bench-' || id, holder_kind => 'provider')) FROM lagbid.provider;
SELECT count(lagbid.publish_task('bench-owner', '{}', 1, 100, 1, bid_limit => 10000,
                                 bidding_window => '31 days', auto_allocate => false))
  FROM generate_series(1, $ntasks);
SELECT count(lagbid.publish_task('bench-owner', '{}', 1, 100, 1, bid_limit => 10000,
                                 bidding_window => '31 days', auto_allocate => false, collateral_ratio => 0.3))
  FROM generate_series(1, $ntasks);
VACUUM ANALYZE;
CHECKPOINT;
SQL

run() { # NAME SCRIPT -> tps
	pgbench -h "$dir" -p "$port" -U postgres -n -M prepared -c "$clients" -j "$clients" -T "$1" \
		-D ntasks=$ntasks -D nproviders=$nproviders -f "$2" "$db" 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
run 3 bench/place_bid.sql >/dev/null
run 3 bench/collateral_bid.sql >/dev/null
plain=(); coll=()
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then
		plain+=("$(run "$secs" bench/place_bid.sql)"); coll+=("$(run "$secs" bench/collateral_bid.sql)")
	else
		coll+=("$(run "$secs" bench/collateral_bid.sql)"); plain+=("$(run "$secs" bench/place_bid.sql)")
	fi
	echo "round $r: plain ${plain[-1]} tps, collateral ${coll[-1]} tps"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mp=$(med "${plain[@]}"); mc=$(med "${coll[@]}")
psql -X -q -h "$dir" -p "$port" -U postgres -d "$db" -At <<SQL
SELECT 'bids: ' || count(*) || ' (' || count(*) FILTER (WHERE bond > 0) || ' with a bond, ' ||
       coalesce(sum(bond), 0) || ' locked); broken invariants: ' || (SELECT count(*) FROM lagbid.check_invariants())
  FROM lagbid.bid;
SQL
awk -v p="$mp" -v c="$mc" 'BEGIN { printf "place_bid: plain %.0f tps, collateral %.0f tps (medians of the rounds); ratio %.3f (target >= 0.9): %s\n", p, c, c / p, (c / p >= 0.9) ? "PASS" : "MISS" }'

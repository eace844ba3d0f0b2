#!/usr/bin/env bash
# Instruction counts (callgrind) of the market functions, per call, for one or
# more builds (docs/benchmarks.md): stable where timings on a shared machine
# are not.
#
#   bench/instructions.sh LABEL_A PG_CONFIG_A TREE_A [LABEL_B PG_CONFIG_B TREE_B ...]
#
# For each build (a PostgreSQL installation with that lagbid installed, and
# its source tree for bench/setup.sql): a fresh cluster with the benchmark
# market (2,000 providers, 200 open tasks), then `postgres --single` under
# callgrind; reports the inclusive counts of lagbid_place_bid,
# lagbid_publish_task, lagbid_close_bidding_locked (inside the closing bid,
# with the allocation), lagbid_submit_result and lagbid_finalize (everything
# they call: SPI, executor, triggers, WAL insertion; not the client protocol
# or commit), and the whole backend's.  (Collecting only inside those
# functions with --toggle-collect loses the allocation, a tail call: hence
# the whole run is collected.)  Each measure runs twice, with N and 2N calls, and reports
# (count(2N) - count(N)) / N, so that the first calls' planning and cache
# warming cancel out.
#   bids:       CALL bench.bid_loop(N) (ordinary bids, committed one by one)
#   lifecycles: CALL bench.step_costs(N) (publish, 3 bids of which the third
#               allocates 3 jobs, 3 submit_result, finalize)
# Environment: IC_BIDS=300 IC_LIFECYCLES=40 IC_DIR=/tmp/lagbid-ic.$UID IC_PORT=55950
# Run as a non-root user (as root: runuser -u postgres -- bash bench/instructions.sh ...).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 3 ] && [ $(($# % 3)) -eq 0 ] || { sed -n 2,24p "$0" >&2; exit 2; }
labels=(); configs=(); trees=()
while [ $# -gt 0 ]; do labels+=("$1"); configs+=("$2"); trees+=("$3"); shift 3; done
nb=${IC_BIDS:-300}; nl=${IC_LIFECYCLES:-40}
base=${IC_DIR:-/tmp/lagbid-ic.$(id -u)}; port0=${IC_PORT:-55950}
db=lagbid_bench
mkdir -p "$base"

# count I NAME SQL FUNCS...: instructions inside FUNCS (inclusive) and in the
# whole backend while the single-user backend runs SQL; prints "func=Ir ..."
count() {
	local i=$1 name=$2 sql=$3 d=$base/cluster.$i out=$base/$i.$2.cg f
	shift 3
	rm -rf "$d.run"; cp -a "$d" "$d.run"
	echo "$sql" | valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$("${configs[$i]}" --bindir)/postgres" --single -D "$d.run" -c shared_preload_libraries= $db \
		>"$base/$i.$name.log" 2>&1
	rm -rf "$d.run"
	printf 'backend=%s ' "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$base/$i.$name.log")"
	for f in "$@"; do
		printf '%s=%s ' "$f" "$(callgrind_annotate --inclusive=yes --threshold=100 "$out" 2>/dev/null |
			awk -v f="$f" '$0 ~ "[ :]" f " " || $0 ~ "[ :]" f "$" { gsub(",", "", $1); print $1; exit }')"
	done
	echo
}

for i in "${!labels[@]}"; do
	(
	d=$base/cluster.$i; b=$("${configs[$i]}" --bindir); port=$((port0 + i))
	rm -rf "$d"
	"$b/initdb" -D "$d" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$d.initdb.log" 2>&1
	cat "$here/test/pg_test.conf" >>"$d/postgresql.conf"
	printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\ncron.database_name = '%s'\nfsync = off\n" \
		"$port" "$d" "$db" >>"$d/postgresql.conf"
	"$b/pg_ctl" -D "$d" -l "$d.log" -w -t 60 start >/dev/null
	"$b/createdb" -h "$d" -p "$port" -U postgres $db
	(cd "${trees[$i]}" && "$b/psql" -X -q -h "$d" -p "$port" -U postgres -d $db -v ON_ERROR_STOP=1 \
		-v nproviders=2000 -v ntasks=200 -v nowners=300 -v nhot=200 -f bench/setup.sql >/dev/null)
	"$b/psql" -X -q -h "$d" -p "$port" -U postgres -d $db -v ON_ERROR_STOP=1 -f "$here/bench/steps.sql" >/dev/null
	"$b/pg_ctl" -D "$d" -m fast -w stop >/dev/null
	f4=(lagbid_publish_task lagbid_place_bid lagbid_close_bidding_locked lagbid_submit_result lagbid_finalize)
	{
		echo "bids1 $(count $i bids1 "CALL bench.bid_loop($nb);" lagbid_place_bid)"
		echo "bids2 $(count $i bids2 "CALL bench.bid_loop($((2 * nb)));" lagbid_place_bid)"
		echo "life1 $(count $i life1 "CALL bench.step_costs($nl, 'owner-1', 2000);" "${f4[@]}")"
		echo "life2 $(count $i life2 "CALL bench.step_costs($((2 * nl)), 'owner-1', 2000);" "${f4[@]}")"
	} >"$base/$i.counts"
	) &
done
wait

# per call: (2N - N) / N
for i in "${!labels[@]}"; do
	awk -v label="${labels[$i]}" -v nb="$nb" -v nl="$nl" '
		{ for (k = 2; k <= NF; k++) { split($k, kv, "="); v[$1, kv[1]] = kv[2] } }
		END {
			d = v["bids2", "lagbid_place_bid"] - v["bids1", "lagbid_place_bid"]
			printf "%-12s place_bid (ordinary, bid_loop)     %12.0f instructions per call\n", label, d / nb
			n = split("lagbid_publish_task:1 lagbid_place_bid:3 lagbid_close_bidding_locked:1 lagbid_submit_result:3 lagbid_finalize:1", fs, " ")
			tot = 0
			for (k = 1; k <= n; k++) {
				split(fs[k], fc, ":")
				d = v["life2", fc[1]] - v["life1", fc[1]]
				if (fc[1] != "lagbid_close_bidding_locked") tot += d
				printf "%-12s %-33s %12.0f instructions per call (%d per lifecycle)\n", label, fc[1], d / nl / fc[2], fc[2]
			}
			printf "%-12s %-33s %12.0f instructions (closing and allocation are inside the third place_bid)\n", label, "lifecycle, in the functions", tot / nl
			printf "%-12s %-33s %12.0f instructions (with PL/pgSQL and a commit per lifecycle)\n", label, "lifecycle, whole backend", (v["life2", "backend"] - v["life1", "backend"]) / nl
		}' "$base/$i.counts"
done | tee "$base/instructions.txt"

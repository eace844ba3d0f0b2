#!/usr/bin/env bash
# Builds of lagbid side by side, in one run (docs/benchmarks.md, "0.2 against 0.3").
#
#   bench/versions.sh LABEL_A PG_CONFIG_A TREE_A LABEL_B PG_CONFIG_B TREE_B [LABEL_C PG_CONFIG_C TREE_C ...]
#
# Each PG_CONFIG is a PostgreSQL installation with that build of lagbid
# installed (a copy of the installation per build: cp -a /opt/pg-h6 /tmp/pg-a,
# then make install PG_CONFIG=/tmp/pg-a/...); TREE is that build's source tree
# (its bench/setup.sql is loaded, and this tree's bench/steps.sql).  Starts one
# throwaway cluster per build, both configured as bench/run.sh configures its
# cluster, loads the benchmark market into each, warms up, then runs, round
# by round and in alternating order (A B C, then C B A):
#   - each pgbench workload of VS_WORKLOADS (16 clients, VS_SECONDS each)
#   - CALL bench.step_costs(VS_STEPS): microseconds per lifecycle step, one client
# and prints the medians, the per-round values and the ratios to A.
# Run it as a non-root user (as root: runuser -u postgres -- bash bench/versions.sh ...).
#
# Environment: VS_ROUNDS=5 VS_SECONDS=10 VS_CLIENTS=16 VS_STEPS=500
#   VS_WORKLOADS="place_bid lifecycle" VS_DIR=/tmp/lagbid-versions.$UID VS_PORT=55900
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 6 ] && [ $(($# % 3)) -eq 0 ] || { sed -n 2,20p "$0" >&2; exit 2; }
labels=(); configs=(); trees=()
while [ $# -gt 0 ]; do labels+=("$1"); configs+=("$2"); trees+=("$3"); shift 3; done
all=("${!labels[@]}"); rev=(); for i in "${all[@]}"; do rev=("$i" "${rev[@]}"); done
rounds=${VS_ROUNDS:-5}; secs=${VS_SECONDS:-10}; clients=${VS_CLIENTS:-16}; nsteps=${VS_STEPS:-500}
workloads=(${VS_WORKLOADS:-place_bid lifecycle})
base=${VS_DIR:-/tmp/lagbid-versions.$(id -u)}; port0=${VS_PORT:-55900}
nproviders=10000; ntasks=2000; nowners=300; nhot=200; db=lagbid_bench
mkdir -p "$base"; out=$base/results.txt; : >"$out"
say() { echo "versions: $(date +%T) $*" | tee -a "$out" >&2; }

bindir() { "${configs[$1]}" --bindir; }
dir() { echo "$base/cluster.$1"; }
port() { echo $((port0 + $1)); }
psql_() { local i=$1; shift; "$(bindir $i)/psql" -X -q -h "$(dir $i)" -p "$(port $i)" -U postgres -d $db -v ON_ERROR_STOP=1 "$@"; }
stop_all() { for i in "${all[@]}"; do "$(bindir $i)/pg_ctl" -D "$(dir $i)" -m fast -w stop >/dev/null 2>&1 || true; done; }
trap stop_all EXIT

for i in "${all[@]}"; do
	d=$(dir $i); b=$(bindir $i)
	"$b/pg_ctl" -D "$d" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$d"
	"$b/initdb" -D "$d" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$d.initdb.log" 2>&1
	cat "$here/test/pg_test.conf" >>"$d/postgresql.conf"
	cat >>"$d/postgresql.conf" <<CONF
port = $(port $i)
listen_addresses = ''
unix_socket_directories = '$d'
cron.database_name = '$db'
cron.host = '$d'
fsync = off
shared_buffers = 512MB
max_connections = 300
synchronous_commit = on
shared_preload_libraries = 'pg_cron,pg_stat_statements'
pg_stat_statements.track = none
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
	"$b/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start >/dev/null
	"$b/createdb" -h "$d" -p "$(port $i)" -U postgres $db
	(cd "${trees[$i]}" && psql_ $i -v nproviders=$nproviders -v ntasks=$ntasks -v nowners=$nowners \
		-v nhot=$nhot -f bench/setup.sql)
	psql_ $i -f "$here/bench/steps.sql"
	"$b/pgbench" -h "$d" -p "$(port $i)" -U postgres -i -q -s 16 $db >"$d.pgbench-init.log" 2>&1
	say "${labels[$i]}: lagbid $(psql_ $i -Atc 'SELECT lagbid.version()') from ${trees[$i]} on port $(port $i)"
done

run() { # run I WORKLOAD SECONDS -> tps
	local i=$1 w=$2 t=$3 o
	o=$("$(bindir 0)/pgbench" -h "$(dir $i)" -p "$(port $i)" -U postgres -n -M prepared -c "$clients" -j 2 -T "$t" \
		-D ntasks=$ntasks -D nproviders=$nproviders -f "$here/bench/$w.sql" $db 2>&1) || true
	if grep -qE 'aborted|^pgbench: error' <<<"$o"; then echo ERROR; else sed -n 's/^tps = \([0-9]*\).*/\1/p' <<<"$o"; fi
}
for i in "${all[@]}"; do for w in "${workloads[@]}"; do run $i "$w" 5 >/dev/null; done
	psql_ $i -c "CALL bench.step_costs(50)" >/dev/null
	psql_ $i -c "VACUUM ANALYZE" -c CHECKPOINT; done
say "warm-up done (every workload 5 s and 50 lifecycle steps on each; VACUUM ANALYZE, CHECKPOINT)"

declare -A res
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then ord=("${all[@]}"); else ord=("${rev[@]}"); fi
	for w in "${workloads[@]}"; do for i in "${ord[@]}"; do
		t=$(run $i "$w" "$secs"); res[$w.$i]="${res[$w.$i]:-} $t"
		say "round $r $w ${labels[$i]}: $t tps"
	done; done
	for i in "${ord[@]}"; do
		while IFS='|' read -r step us; do
			res["step:$step.$i"]="${res["step:$step.$i"]:-} $us"
		done < <(psql_ $i -At -c "CALL bench.step_costs($nsteps)" -c "SELECT step, us_per_call FROM bench.step_cost")
		say "round $r steps ${labels[$i]}: ${res["step:lifecycle (sum).$i"]##* } µs per lifecycle"
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "ERROR"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
ratios() { paste -d' ' <(echo $1 | tr ' ' '\n') <(echo $2 | tr ' ' '\n') | awk '{ if ($1 > 0) printf " %.2f", $2 / $1; else printf " ERROR" }'; }
line() { # line TITLE KEY: medians of every build, then each build's ratio to A (median, per round)
	local title=$1 k=$2 i a m out rr=""
	a=$(echo "${res[$k.0]}" | median); out=$(printf '%-36s' "$title")
	for i in "${all[@]}"; do m=$(echo "${res[$k.$i]}" | median); out="$out$(printf ' %11s' "$m")"
		[ "$i" = 0 ] || { out="$out$(awk -v a="$a" -v b="$m" 'BEGIN { printf " (%.3f)", b / a }')"; rr="$rr [$(ratios "${res[$k.0]}" "${res[$k.$i]}") ]"; }
	done
	echo "$out  per round to ${labels[0]}:$rr"
}
{
	echo
	printf '%-36s' ""; for i in "${all[@]}"; do printf ' %11s' "${labels[$i]}"; [ "$i" = 0 ] || printf ' %8s' '(to A)'; done; echo
	for w in "${workloads[@]}"; do line "$w tps ($clients clients)" "$w"; done
	for step in 'publish' 'ordinary bid' 'closing bid + allocation (3 jobs)' 'submit_result' \
		'finalize (election, payment)' 'lifecycle (sum)'; do
		line "µs: $step" "step:$step"
	done
	echo
	echo "($rounds rounds, alternating; tps: ${secs} s pgbench runs; µs: median over rounds of the mean of $nsteps lifecycles, one client, a commit after each; $(nproc) cores, load at end $(cut -d' ' -f1-3 /proc/loadavg))"
	for k in "${!res[@]}"; do echo "raw $k:${res[$k]}"; done | sort
} | tee -a "$out"

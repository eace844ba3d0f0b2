#!/usr/bin/env bash
# The tick republishing spaces whose workloads are big (issue 19, defect 6;
# docs/0.4/market-hardening.md).  0.3 copied each space's workload body into
# every task the tick published for it: the review timed 7.9 s for 200
# spaces of 4 MiB.  Since 0.4 a task names its workload by digest.
#
#   bench/republish.sh LABEL_A PG_CONFIG_A [LABEL_B PG_CONFIG_B ...]
#
# Each PG_CONFIG is a PostgreSQL installation with that build of lagbid
# installed (a copy of the installation per build: cp -a /opt/pg-x /tmp/pg-a,
# then make install PG_CONFIG=/tmp/pg-a/...).  For each build: a throwaway
# cluster, RP_SPACES spaces (one owner each, so no owner cap is involved)
# with distinct, compressible workloads of just under 4 MiB (four inputs of
# 1,040,000 base64 characters), published once by a first tick.  Then
# RP_ROUNDS rounds, in alternating order of the builds (A B, then B A): every
# space's price_min changes (update_space, not timed), and one tick()
# republishes them all, timed by psql (\timing: the tick's statement and its
# commit).  Prints per round the time and the spaces published, then the
# median of each build and its ratio to A.
# Run it as a non-root user (as root: runuser -u postgres -- bash bench/republish.sh ...).
#
# Environment: RP_SPACES=200 RP_ROUNDS=5 RP_DIR=/tmp/lagbid-republish.$UID RP_PORT=56100
set -euo pipefail
[ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] || { sed -n 2,22p "$0" >&2; exit 2; }
labels=(); configs=()
while [ $# -gt 0 ]; do labels+=("$1"); configs+=("$2"); shift 2; done
all=("${!labels[@]}"); rev=(); for i in "${all[@]}"; do rev=("$i" "${rev[@]}"); done
nspaces=${RP_SPACES:-200}; rounds=${RP_ROUNDS:-5}
base=${RP_DIR:-/tmp/lagbid-republish.$(id -u)}; port0=${RP_PORT:-56100}; db=lagbid_republish
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$base"; out=$base/results.txt; : >"$out"
say() { echo "republish: $(date +%T) $*" | tee -a "$out" >&2; }

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
fsync = off
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
	"$b/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start >/dev/null
	"$b/createdb" -h "$d" -p "$(port $i)" -U postgres $db
	psql_ $i -c "CREATE EXTENSION lagbid" -c "
		DO \$\$
		DECLARE
		    n int;
		    body text := repeat('A', 1040000);
		BEGIN
		    FOR n IN 1 .. $nspaces LOOP
		        PERFORM lagbid.deposit('owner' || n, 1000, 'republish-' || n);
		        PERFORM lagbid.create_space('owner' || n, 'app', '{}', 1, 2, 100, workload =>
		            jsonb_build_object('command', jsonb_build_array('serve', n::text),
		                               'inputs', (SELECT jsonb_agg(jsonb_build_object('path', 'in' || k, 'content_base64', body))
		                                            FROM generate_series(1, 4) k)));
		    END LOOP;
		END \$\$" -c "SELECT lagbid.tick() ->> 'spaces_published'" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
	say "${labels[$i]}: lagbid $(psql_ $i -Atc 'SELECT lagbid.version()') on port $(port $i), $nspaces spaces of" \
		"$(psql_ $i -Atc "SELECT pg_size_pretty(coalesce((to_jsonb(s) ->> 'workload_bytes')::bigint, octet_length((to_jsonb(s) -> 'workload')::text))) FROM lagbid.space s LIMIT 1") of workload each"
done

declare -A ms
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then ord=("${all[@]}"); else ord=("${rev[@]}"); fi
	for i in "${ord[@]}"; do
		psql_ $i -c "SELECT count(lagbid.update_space(id, price_min => 1 + $r / 1000.0)) FROM lagbid.space" >/dev/null
		o=$(psql_ $i -At -c '\timing on' -c "SELECT lagbid.tick() ->> 'spaces_published'")
		published=$(head -1 <<<"$o"); t=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$o")
		ms[$i,$r]=$t
		say "round $r ${labels[$i]}: tick ${t} ms, $published spaces republished"
		[ "$published" = "$nspaces" ] || { say "ERROR: ${labels[$i]} republished $published of $nspaces"; exit 1; }
	done
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
m0=$(for r in $(seq 1 "$rounds"); do echo "${ms[0,$r]}"; done | median)
for i in "${all[@]}"; do
	m=$(for r in $(seq 1 "$rounds"); do echo "${ms[$i,$r]}"; done | median)
	say "${labels[$i]}: median tick $m ms over $rounds rounds; ratio to ${labels[0]}: $(awk -v a="$m" -v b="$m0" 'BEGIN {printf "%.3f", a / b}')"
done

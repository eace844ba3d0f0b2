#!/usr/bin/env bash
# The bid herd (issue 22): many agents bid on one task at once; bid_limit of
# them get in, the rest are refused (LB302).  A benchmark, not a test: it
# prints figures and fails only when a run fails (or a task took other than
# bid_limit bids).
#
#   bench/herd.sh LABEL_A PG_CONFIG_A [LABEL_B PG_CONFIG_B ...]
#
# For each build (a PostgreSQL installation with that lagbid installed): a
# throwaway cluster (fsync off) with nproviders providers.  Each round, for
# each build in turn (the order alternating between rounds): publish one task
# (bid_limit HERD_LIMIT, auto_allocate), then HERD_CLIENTS pgbench clients
# make HERD_BIDS bids each on it, a random provider each time (a drawn-again
# provider is a retry: rule 5 gives its bid back).  A refusal is caught in
# herd.try_bid, as an agent logs it and goes on.  Prints, per build, the
# medians over the rounds of: bid attempts per second, mean latency, and the
# task-row updates per round (n_tup_upd of lagbid.task: each refused bid that
# took the lock updated the row and left a dead version).
# Environment: HERD_CLIENTS=64 HERD_BIDS=200 HERD_ROUNDS=5 HERD_LIMIT=3
# HERD_PROVIDERS=400 HERD_DIR=/tmp/lagbid-herd.$UID HERD_PORT=56260.
# Run as a non-root user (as root: runuser -u postgres -- bash bench/herd.sh ...).
set -euo pipefail
[ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] || { sed -n 2,21p "$0" >&2; exit 2; }
labels=(); configs=()
while [ $# -gt 0 ]; do labels+=("$1"); configs+=("$2"); shift 2; done
clients=${HERD_CLIENTS:-64}; bids=${HERD_BIDS:-200}; rounds=${HERD_ROUNDS:-5}
limit=${HERD_LIMIT:-3}; np=${HERD_PROVIDERS:-400}
base=${HERD_DIR:-/tmp/lagbid-herd.$(id -u)}; port0=${HERD_PORT:-56260}
db=lagbid_herd
mkdir -p "$base"
script=$base/herd_bid.sql
cat >"$script" <<'SQL'
\set p random(1, :np)
SELECT herd.try_bid(:task, :p);
SQL

bin() { "${configs[$1]}" --bindir; }
sql() { local i=$1; shift; "$(bin "$i")/psql" -X -q -At -h "$base/c$i" -p $((port0 + i)) -U postgres -d $db -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
	for i in "${!labels[@]}"; do
		[ -s "$base/c$i/postmaster.pid" ] && "$(bin "$i")/pg_ctl" -D "$base/c$i" -m fast -w stop >/dev/null || true
	done
}
trap cleanup EXIT

for i in "${!labels[@]}"; do
	d=$base/c$i; b=$(bin "$i")
	rm -rf "$d"
	"$b/initdb" -D "$d" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$d.initdb.log" 2>&1
	printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\nmax_connections = %s\nshared_buffers = '128MB'\n" \
		$((port0 + i)) "$d" $((clients + 20)) >>"$d/postgresql.conf"
	"$b/pg_ctl" -D "$d" -l "$d.log" -w -t 60 start >/dev/null
	"$b/createdb" -h "$d" -p $((port0 + i)) -U postgres $db
	sql "$i" -o /dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION lagbid;
CREATE SCHEMA herd;
CREATE FUNCTION herd.try_bid(t bigint, p bigint) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM lagbid.place_bid(t, p, 5);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END \$\$;
SELECT lagbid.deposit('herd-owner', 1e12, 'herd-owner');
SELECT count(lagbid.register_provider(lagbid.peer_id_from_ed25519(sha256(n::text::bytea)),
                                      ARRAY['/ip4/10.1.0.1/tcp/4001'], 'eu', '{"cpu": 64}', 100000))
  FROM generate_series(1, $np) AS n;
VACUUM ANALYZE;
SQL
done

declare -A tps lat upd
for r in $(seq 1 "$rounds"); do
	order=("${!labels[@]}")
	[ $((r % 2)) -eq 0 ] && order=($(printf '%s\n' "${!labels[@]}" | sort -rn))
	for i in "${order[@]}"; do
		task=$(sql "$i" -c "SELECT lagbid.publish_task('herd-owner', '{}', 1, 10, 1, bid_limit => $limit,
		                                                 bidding_window => '1 day')")
		before=$(sql "$i" -c "SELECT pg_stat_force_next_flush(); SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'lagbid.task'::regclass" | tail -1)
		out=$("$(bin "$i")/pgbench" -h "$base/c$i" -p $((port0 + i)) -U postgres -n -M prepared \
			-c "$clients" -j 4 -t "$bids" -D np="$np" -D task="$task" -f "$script" $db 2>&1) ||
			{ echo "$out" >&2; exit 1; }
		t=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1)
		l=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
		sleep 1
		after=$(sql "$i" -c "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'lagbid.task'::regclass")
		got=$(sql "$i" -c "SELECT count(*) FROM lagbid.bid WHERE task_id = $task")
		[ "$got" = "$limit" ] || { echo "${labels[$i]}: task $task took $got bids, not $limit" >&2; exit 1; }
		tps[$i]="${tps[$i]:-} $t"; lat[$i]="${lat[$i]:-} $l"; upd[$i]="${upd[$i]:-} $((after - before))"
		echo "round $r ${labels[$i]}: $((clients * bids)) attempts, $got bids, $t attempts/s, latency $l ms, $((after - before)) task-row updates"
	done
done

med() { printf '%s\n' $@ | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for i in "${!labels[@]}"; do
	inv=$(sql "$i" -c "SELECT count(*) FROM lagbid.check_invariants()")
	printf '%-10s herd of %d clients x %d bids on one task (bid_limit %d): %s attempts/s, latency %s ms, %s task-row updates per round (medians of %d rounds); broken invariants: %s\n' \
		"${labels[$i]}" "$clients" "$bids" "$limit" "$(med ${tps[$i]})" "$(med ${lat[$i]})" "$(med ${upd[$i]})" "$rounds" "$inv"
done

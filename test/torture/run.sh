#!/usr/bin/env bash
# lagbid torture test: many clients call every market function at once on
# random ids, then the market must still be consistent.
#
#   test/torture/run.sh [SECONDS [CLIENTS]]
#   TORTURE_SECONDS (default 5), TORTURE_CLIENTS (default 16),
#   TORTURE_PORT (default 56000), TORTURE_DIR (default /tmp/lagbid-torture.$UID),
#   TORTURE_EXCLUDE (scripts to leave out, e.g. "trigger_space tick", to narrow a failure down)
#
# Starts its own throwaway cluster (scripts/cluster.sh), loads
# test/torture/setup.sql (the market and the torture.* helpers), runs pgbench
# with the weighted scripts of test/torture/scripts/, then prints TAP lines:
#   1 no failed transactions   pgbench: no failed transaction, no aborted client
#   2 invariants hold          lagbid.check_invariants() returns no row
#   3 no deadlock in the log   "deadlock detected" never logged
#   4 no crash in the log      no TRAP, PANIC or terminated server process
#   5 every function was called
# and a summary (tps, outcomes per function, refusals per SQLSTATE).
# Exits non-zero when a check fails.  lagbid must be installed already
# (make install); as root, the cluster runs as user postgres.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/scripts/lib.sh"

seconds=${1:-${TORTURE_SECONDS:-5}}
clients=${2:-${TORTURE_CLIENTS:-16}}
port=${TORTURE_PORT:-$((56000 + $(lagbid_slot)))}
dir=${TORTURE_DIR:-/tmp/lagbid-torture.$(id -u).$(lagbid_slot)}
db=torture

# PostgreSQL refuses root: run a copy of what we need as the runner
if [ "$(id -u)" -eq 0 ]; then
	src=$dir.src
	rm -rf "$src"
	mkdir -p "$src/test"
	cp -r "$top/scripts" "$src/scripts"
	cp -r "$here" "$src/test/torture"
	cp "$top/test/pg_test.conf" "$src/test/pg_test.conf"
	chown -R postgres: "$src"
	exec runuser -u postgres -- env PATH="$PATH" PG_CONFIG="$PG_CONFIG" \
		TORTURE_DIR="$dir" TORTURE_PORT="$port" TORTURE_EXCLUDE="${TORTURE_EXCLUDE:-}" \
		bash "$src/test/torture/run.sh" "$seconds" "$clients"
fi

# weights of the pgbench scripts (percent-ish of the transactions)
weights=(
	place_bid=28 submit_result=8 publish_task=5 close_bidding=6 finalize=5
	withdraw_bid=4 allocate_auto=4 allocate_ids=4 fail_job=2 open_bidding=3
	set_bid_limit=3 cancel_task=2 set_provider_state=1 register_provider=1
	deposit=1 balance=1 create_space=1 update_space=2 extend_space=1
	trigger_space=3 tick=1 upload_result=4 why_not=1 task_result=1
)
if [ -n "${TORTURE_EXCLUDE:-}" ]; then
	kept=()
	for w in "${weights[@]}"; do
		case " $TORTURE_EXCLUDE " in *" ${w%%=*} "*) ;; *) kept+=("$w") ;; esac
	done
	weights=("${kept[@]}")
fi

cluster() { bash "$top/scripts/cluster.sh" "$@"; }
sql() { psql -X -q -h "$dir" -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }

# a fresh cluster every run
[ -s "$dir/postmaster.pid" ] && pg_ctl -D "$dir" -m immediate -w stop >/dev/null 2>&1
rm -rf "$dir" "$dir.initdb.log"
cluster start "$dir" "$port" "$db" || { echo "not ok 1 - cluster did not start"; exit 1; }
cluster stop "$dir"
cat >>"$dir/postgresql.conf" <<CONF
max_connections = $((clients + 20))
log_min_messages = warning
log_min_error_statement = error
CONF
cluster start "$dir" "$port" "$db" || { echo "not ok 1 - cluster did not restart"; exit 1; }
trap 'cluster stop "$dir"' EXIT

if ! sql -f "$here/setup.sql" >"$dir/setup.log" 2>&1; then
	echo "not ok 1 - setup failed"
	sed 's/^/# /' "$dir/setup.log"
	exit 1
fi
# where the log starts for this run (the setup's own messages excluded)
log_from=$(wc -l <"$dir/server.log")

args=()
for w in "${weights[@]}"; do
	args+=(-f "$here/scripts/${w%%=*}.sql@${w#*=}")
done
threads=$((clients < 4 ? clients : 4))
echo "# torture: $clients clients, $seconds s, cluster $dir port $port${TORTURE_EXCLUDE:+, without $TORTURE_EXCLUDE}"
pgbench -n -h "$dir" -p "$port" -U postgres -c "$clients" -j "$threads" -T "$seconds" \
	"${args[@]}" "$db" >"$dir/pgbench.log" 2>&1
pgbench_rc=$?

fail=0
check() {	# check N DESCRIPTION OK(0/1)
	if [ "$3" -eq 0 ]; then echo "ok $1 - $2"; else echo "not ok $1 - $2"; fail=1; fi
}

echo "1..5"

# 1. no failed transaction, no aborted client
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/pgbench.log")
done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/pgbench.log")
bad=0
[ $pgbench_rc -eq 0 ] || bad=1
[ "${failed:-0}" = 0 ] || bad=1
[ "${done_tx:-0}" -gt 0 ] || bad=1
grep -qiE 'aborted|error' "$dir/pgbench.log" && bad=1
check 1 "no failed transactions" $bad
if [ $bad -ne 0 ]; then
	echo "# pgbench exit $pgbench_rc, failed ${failed:-?}, processed ${done_tx:-0}"
	grep -iE 'aborted|error|failed transactions: [1-9]|^SQL script' "$dir/pgbench.log" |
		grep -B1 -iE 'aborted|error|failed transactions: [1-9]' | grep -v '^--' | head -30 | sed 's/^/# /'
fi

# 2. the market is consistent
broken=$(sql -At -c "SELECT count(*) FROM lagbid.check_invariants()" 2>&1)
[ "$broken" = 0 ]; check 2 "invariants hold" $?
if [ "$broken" != 0 ]; then
	sql -At -c "SELECT invariant || ': ' || detail FROM lagbid.check_invariants() LIMIT 20" 2>&1 | sed 's/^/# /'
fi

# 3 and 4. the server log of the run
tail -n +"$((log_from + 1))" "$dir/server.log" >"$dir/run.log"
! grep -q 'deadlock detected' "$dir/run.log"; check 3 "no deadlock in the log" $?
grep -m 5 -B2 -A8 'deadlock detected' "$dir/run.log" | head -40 | sed 's/^/# /'
! grep -qE 'TRAP|PANIC|server process .* was terminated|terminated by signal' "$dir/run.log"
check 4 "no crash in the log" $?
grep -m 5 -E 'TRAP|PANIC|server process .* was terminated|terminated by signal' "$dir/run.log" | sed 's/^/# /'

# 5. every function was called
missing=$(sql -At -c "SELECT string_agg(f, ', ') FROM unnest(ARRAY[$(printf "'%s'," "${weights[@]%%=*}" |
	sed 's/,$//; s/allocate_auto/allocate(auto)/; s/allocate_ids/allocate(ids)/')]) f
	WHERE NOT EXISTS (SELECT 1 FROM torture.outcome o WHERE o.fn = f)" 2>&1)
[ -z "$missing" ]; check 5 "every function was called" $?
[ -z "$missing" ] || echo "# never called: $missing"

# summary
echo "# $(grep -E '^tps' "$dir/pgbench.log" | head -1)"
echo "# transactions: ${done_tx:-0}, failed: ${failed:-?}"
echo "# calls per function (ok / refused):"
sql -At -F ' ' -c "SELECT rpad(fn, 20), count(*) FILTER (WHERE sqlstate = 'ok'), '/',
	count(*) FILTER (WHERE sqlstate <> 'ok') FROM torture.outcome GROUP BY fn ORDER BY fn" | sed 's/^/#   /'
echo "# refusals per SQLSTATE:"
sql -At -F ' ' -c "SELECT o.sqlstate, rpad(coalesce(e.name, '?'), 26), count(*),
	'(' || string_agg(DISTINCT o.fn, ', ') || ')'
	FROM torture.outcome o LEFT JOIN lagbid.error_codes() e ON e.sqlstate = o.sqlstate
	WHERE o.sqlstate <> 'ok' GROUP BY o.sqlstate, e.name ORDER BY o.sqlstate" | sed 's/^/#   /'
echo "# tasks by state: $(sql -At -c "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
	FROM (SELECT state, count(*) n FROM lagbid.task GROUP BY state) s")"
echo "# jobs by state: $(sql -At -c "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
	FROM (SELECT state, count(*) n FROM lagbid.job GROUP BY state) s")"
echo "# logs: $dir/pgbench.log $dir/run.log"

if [ $fail -ne 0 ]; then
	echo "# torture FAILED"
	exit 1
fi
echo "# torture passed"

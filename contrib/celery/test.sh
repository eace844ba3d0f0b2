#!/usr/bin/env bash
# End-to-end test of the Celery bridge (TAP output; exit status non-zero on failure).
#
# A throwaway PostgreSQL cluster (port 56100) with lagbid, a redis-server (port
# 6390) as Celery broker and result backend, a Celery worker and the listener,
# all under /tmp/lagbid-celery.$UID and run as a non-root user.  A small market
# runs (bids through the Celery place_bid task); every notification row must
# reach the delivery log exactly once, including those created while the
# listener was stopped (the outbox drain on restart).
#
#   contrib/celery/test.sh
#   LAGBID_CELERY_INSTALL=1 contrib/celery/test.sh   also (re)install lagbid first
#   KEEP=1 contrib/celery/test.sh                    keep the directory and its logs
#
# lagbid is installed (make install) only when it is missing or when asked:
# the install lock is shared with the other suites and may be held for minutes.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
main=$(cd "$here/../.." && pwd)
. "$main/scripts/lib.sh"

PY=/usr/bin/python3           # Debian's python3, which has the Debian packages
PGPORT=${LAGBID_CELERY_PGPORT:-$((56100 + $(lagbid_slot)))}
REDIS_PORT=$((6390 + $(lagbid_slot)))
base=/tmp/lagbid-celery.$UID.$(lagbid_slot)
DB=lagbid
TIMEOUT=${LAGBID_CELERY_TIMEOUT:-30}

n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '#   %s\n' "${@:2}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
bail() { echo "Bail out! $*"; exit 1; }
diag() { echo "# $*"; }

# ---------------------------------------------------------------------------
# processes: each writes its own pid file (the real pid, not runuser's)
# ---------------------------------------------------------------------------

pid_of() { [ -s "$base/$1.pid" ] && cat "$base/$1.pid"; }

stop_proc() {
	local name=$1 pid i
	pid=$(pid_of "$name") || return 0
	kill -TERM "$pid" 2>/dev/null || { rm -f "$base/$name.pid"; return 0; }
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	rm -f "$base/$name.pid"
}

cleanup() {
	local rc=$?
	stop_proc listener
	stop_proc worker
	if [ -s "$base/redis/redis.pid" ]; then
		kill -TERM "$(cat "$base/redis/redis.pid")" 2>/dev/null
	fi
	[ -d "$base/data" ] && as_runner "$main/scripts/cluster.sh" stop "$base/data" >/dev/null 2>&1
	if [ "$rc" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$base" "$base/data.initdb.log"
	else
		echo "# logs kept under $base" >&2
	fi
	exit "$rc"
}

# the bridge's environment, as an `env` command prefix
BENV=(env HOME="$base" PYTHONPATH="$base/py"
	LAGBID_DSN="host=$base/data port=$PGPORT dbname=$DB user=postgres"
	LAGBID_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
	LAGBID_RESULT_BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
	LAGBID_DELIVERY_LOG="$base/deliveries.jsonl")

# start_bg NAME CMD...: runs CMD as the runner in the background, logging to NAME.log
start_bg() {
	local name=$1; shift
	: >>"$base/$name.log"
	as_runner bash -c 'echo $$ >"$0"; exec "$@"' "$base/$name.pid" "$@" >>"$base/$name.log" 2>&1 &
}

# wait_for SECONDS CMD...: polls CMD until it succeeds
wait_for() {
	local secs=$1 i; shift
	for i in $(seq $((secs * 5))); do "$@" && return 0; sleep 0.2; done
	return 1
}

q() { as_runner psql -h "$base/data" -p "$PGPORT" -U postgres -d "$DB" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# call TASK JSON-ARGS: runs a bridge task through Celery and prints its result
call() {
	as_runner "${BENV[@]}" "$PY" - "$@" <<'PY'
import json, sys
from lagbid_bridge import tasks
task = getattr(tasks, sys.argv[1])
try:
    print(json.dumps(task.apply_async(args=json.loads(sys.argv[2])).get(timeout=30)))
except Exception as exc:
    print("ERROR %s: %s" % (type(exc).__name__, exc))
    sys.exit(1)
PY
}

# deliveries: compares the delivery log with the outbox; prints
# "total=N delivered=N missing=N duplicated=N extra=N mismatched=N unordered=N"
deliveries() {
	as_runner "${BENV[@]}" "$PY" - <<'PY'
import collections, json, os, psycopg
rows = {}
with psycopg.connect(os.environ["LAGBID_DSN"]) as conn:
    for nid, payload in conn.execute(
            "SELECT id, jsonb_build_object('id', id) || payload FROM lagbid.notification"):
        rows[nid] = payload
seen = collections.Counter()
mismatched = unordered = 0
last = {}
path = os.environ["LAGBID_DELIVERY_LOG"]
if os.path.exists(path):
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            nid = d["id"]
            seen[nid] += 1
            if nid in rows and d["payload"] != rows[nid]:
                mismatched += 1
            holder = (d.get("recipient_kind"), d["recipient"])
            if last.get(holder, 0) > nid:
                unordered += 1
            last[holder] = max(last.get(holder, 0), nid)
print("total=%d delivered=%d missing=%d duplicated=%d extra=%d mismatched=%d unordered=%d" % (
    len(rows), sum(seen.values()), len(set(rows) - set(seen)),
    sum(1 for c in seen.values() if c > 1), len(set(seen) - set(rows)), mismatched, unordered))
PY
}

all_delivered() { deliveries | grep -q ' missing=0 '; }

# ---------------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------------

pkgs="python3-celery python3-psycopg python3-redis redis-server"
missing=$(for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
	sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
	# shellcheck disable=SC2086
	$sudo apt-get install -y -q $missing >/dev/null 2>&1 ||
		{ $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q $missing >/dev/null 2>&1; } ||
		bail "cannot install $missing"
fi
"$PY" -c 'import celery, psycopg, redis' 2>/dev/null || bail "$PY cannot import celery, psycopg, redis"
ok "Debian packages present ($pkgs)"

if [ -n "${LAGBID_CELERY_INSTALL:-}" ] || [ ! -f "$(pg_config --sharedir)/extension/lagbid.control" ]; then
	flock -w 900 ${LAGBID_LOCK:-/tmp/lagbid-install.lock} make -C "$main" -s install >/dev/null ||
		bail "make install failed (is the tree mid-edit? retry in a minute)"
fi

# a clean slate: stop what an earlier run may have left behind
if [ -d "$base" ]; then
	stop_proc listener; stop_proc worker
	[ -s "$base/redis/redis.pid" ] && kill -TERM "$(cat "$base/redis/redis.pid")" 2>/dev/null && sleep 0.5
	[ -d "$base/data" ] && as_runner "$main/scripts/cluster.sh" stop "$base/data" >/dev/null 2>&1
	rm -rf "$base"
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then
	bail "port $REDIS_PORT is in use (another redis?)"
fi
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$base/py" "$base/redis"
cp -r "$here/lagbid_bridge" "$base/py/"
find "$base/py" -name __pycache__ -prune -exec rm -rf {} +
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$base"

as_runner "$main/scripts/cluster.sh" start "$base/data" "$PGPORT" "$DB" >/dev/null 2>&1 ||
	bail "cannot start PostgreSQL (see $base/data/server.log)"
q "CREATE EXTENSION lagbid" >/dev/null || bail "CREATE EXTENSION lagbid failed"
# the bridge sets JWT claims like PostgREST: its login must be an authenticator
q "ALTER DATABASE $DB SET lagbid.authenticators = 'authenticator, postgres'" >/dev/null
# node(n): a valid libp2p peer id made from n (as in sql/setup.sql)
q "$(cat <<'SQL'
CREATE FUNCTION public.b58(b bytea) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    alphabet constant text := '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
    n numeric := 0;
    r text := '';
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP n := n * 256 + get_byte(b, i); END LOOP;
    WHILE n > 0 LOOP
        r := substr(alphabet, mod(n, 58)::int + 1, 1) || r;
        n := div(n, 58);
    END LOOP;
    FOR i IN 0 .. length(b) - 1 LOOP
        EXIT WHEN get_byte(b, i) <> 0;
        r := '1' || r;
    END LOOP;
    RETURN r;
END $$;
CREATE FUNCTION public.node(n int) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN public.b58('\x002408011220'::bytea || sha256(n::text::bytea));
SQL
)" >/dev/null
ok "PostgreSQL on port $PGPORT with lagbid $(q 'SELECT lagbid.version()')"

as_runner redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$base/redis" \
	--pidfile "$base/redis/redis.pid" --logfile "$base/redis/redis.log" --save '' --appendonly no >/dev/null
if wait_for 10 redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then ok "redis-server on port $REDIS_PORT"; else bail "redis-server did not start"; fi

start_bg worker "${BENV[@]}" "$PY" -m celery -A lagbid_bridge.tasks worker --pool=solo -n "lagbid-test@%h" -l INFO \
	--without-gossip --without-mingle --without-heartbeat
if wait_for 30 grep -qs 'ready\.' "$base/worker.log"; then ok "Celery worker ready (solo pool, as $(as_runner id -un))"
else bail "the Celery worker did not start: $(tail -5 "$base/worker.log")"; fi

start_listener() {
	start_bg listener "${BENV[@]}" "$PY" -m lagbid_bridge.listener
	local before=$1
	wait_for 20 bash -c "[ \$(grep -c 'listening on channel' '$base/listener.log') -gt $before ]"
}
if start_listener 0; then ok "listener started (LISTEN lagbid)"; else bail "the listener did not start: $(tail -5 "$base/listener.log")"; fi

# ---------------------------------------------------------------------------
# a small market, bids through Celery
# ---------------------------------------------------------------------------

q "SELECT lagbid.deposit('alice', 1000, 'celery-test-0001')" >/dev/null
for i in 1 2 3; do
	q "SELECT lagbid.register_provider(public.node($i), ARRAY['/ip4/10.0.0.$i/tcp/4001'], 'eu-west',
	       '{\"cpu\": 8, \"memory_gb\": 32}', 5)" >/dev/null
done
task=$(q "SELECT lagbid.publish_task(owner => 'alice', resources => '{\"cpu\": 4, \"memory_gb\": 16}',
           price_min => 4, price_max => 10, duration_hours => 2, region => 'eu', bid_limit => 3,
           replicas => 1)")
node() { q "SELECT public.node($1)"; }

b1=$(call place_bid "[\"$(node 1)\", $task, 7]")
b1again=$(call place_bid "[\"$(node 1)\", $task, \"7\"]")
refused=$(call place_bid "[\"$(node 3)\", $task, 20]")
b2=$(call place_bid "[\"$(node 2)\", $task, 5]")
b3=$(call place_bid "[\"$(node 3)\", $task, 9]")
if [[ $b1 =~ ^[0-9]+$ && $b2 =~ ^[0-9]+$ && $b3 =~ ^[0-9]+$ && $b1again == "$b1" ]]; then
	ok "place_bid through Celery as each provider: bids $b1, $b2, $b3 (the identical bid again: $b1again)"
else
	notok "place_bid through Celery" "b1=$b1 again=$b1again b2=$b2 b3=$b3" "$(tail -3 "$base/worker.log")"
fi
if [[ $refused == ERROR\ LagbidError:\ LB* ]]; then ok "a refused bid comes back as a lagbid refusal (${refused:0:60}...)"
else notok "a refused bid comes back as a lagbid refusal" "got: $refused"; fi
state=$(q "SELECT state FROM lagbid.task WHERE id = $task")
won=$(q "SELECT b.id FROM lagbid.bid b WHERE b.task_id = $task AND b.state = 'won'")
check "the third bid reached the bid limit: task $task $state, the lowest ask (bid $won) won" \
	test "$state" = processing -a "$won" = "$b2"

if wait_for "$TIMEOUT" all_delivered; then :; fi
d=$(deliveries)
kinds=$(q "SELECT string_agg(kind || ' x' || c, ', ' ORDER BY kind) FROM (SELECT kind, count(*) c FROM lagbid.notification GROUP BY kind) s")
if [[ $d == *" missing=0 duplicated=0 extra=0 mismatched=0 "* && $d != total=0* ]]; then
	ok "live notifications delivered exactly once ($kinds)"
else notok "live notifications delivered exactly once" "$d" "$(tail -3 "$base/listener.log")"; fi
# lagbid 0.4 pushes ids after the commit, in batches ({"ids": [...]}): the
# bridge reads every form it sends without falling back to a drain
check "every push's payload was understood (no \"unexpected payload\" in the listener's log)" \
	bash -c "! grep -q 'unexpected payload' '$base/listener.log'"

tick=$(call run_tick "[]")
if [[ $tick == \{* ]]; then ok "run_tick through Celery: ${tick:0:70}"; else notok "run_tick through Celery" "$tick"; fi

# ---------------------------------------------------------------------------
# the listener is down: notifications pile up in the outbox
# ---------------------------------------------------------------------------

stop_proc listener
delivered_before=$(wc -l <"$base/deliveries.jsonl")
job=$(q "SELECT id FROM lagbid.job WHERE task_id = $task")
q "SELECT lagbid.submit_result($job, 'ipfs://bafy-result', 'sha256:5f3c0ffee')" >/dev/null
q "SELECT lagbid.finalize($task)" >/dev/null
task2=$(q "SELECT lagbid.publish_task(owner => 'alice', resources => '{\"cpu\": 2}', price_min => 1,
            price_max => 3, duration_hours => 1, region => 'eu', bid_limit => 5)")
q "SELECT lagbid.place_bid($task2, p.id, 2) FROM lagbid.provider p WHERE p.node_id IN (public.node(1), public.node(3))" >/dev/null
q "SELECT lagbid.cancel_task($task2, 'owner changed plans')" >/dev/null
# a crash between publishing and recording: the bridge forgets one dispatch
forgot=$(q "DELETE FROM lagbid_bridge.dispatched WHERE notification_id = (SELECT min(notification_id) FROM lagbid_bridge.dispatched) RETURNING notification_id")
pending=$(q "SELECT count(*) FROM lagbid.notification n WHERE NOT EXISTS (SELECT 1 FROM lagbid_bridge.dispatched d WHERE d.notification_id = n.id)")
sleep 1
check "while the listener is stopped nothing is delivered ($pending notifications pending)" \
	test "$(wc -l <"$base/deliveries.jsonl")" -eq "$delivered_before" -a "$pending" -ge 6

if start_listener 1; then ok "listener restarted"; else notok "listener restarted" "$(tail -5 "$base/listener.log")"; fi
wait_for "$TIMEOUT" all_delivered
d=$(deliveries)
kinds=$(q "SELECT string_agg(kind || ' x' || c, ', ' ORDER BY kind) FROM (SELECT kind, count(*) c FROM lagbid.notification GROUP BY kind) s")
if [[ $d == *" missing=0 duplicated=0 extra=0 mismatched=0 "* ]]; then
	ok "the outbox drain delivered the rest, every notification exactly once ($kinds)"
else notok "the outbox drain delivered the rest, every notification exactly once" "$d"; fi
check "notification $forgot was dispatched again and the worker skipped the duplicate" \
	grep -q "notification $forgot already delivered" "$base/worker.log"
# PostgreSQL restarts: the listener reconnects, drains, listens again
as_runner "$main/scripts/cluster.sh" stop "$base/data" >/dev/null 2>&1
as_runner "$main/scripts/cluster.sh" start "$base/data" "$PGPORT" "$DB" >/dev/null 2>&1 ||
	bail "cannot restart PostgreSQL"
task3=$(q "SELECT lagbid.publish_task(owner => 'alice', resources => '{\"cpu\": 2}', price_min => 1,
            price_max => 3, duration_hours => 1, bid_limit => 5)")
call place_bid "[\"$(node 2)\", $task3, 2]" >/dev/null
q "SELECT lagbid.cancel_task($task3)" >/dev/null
wait_for "$TIMEOUT" all_delivered
d=$(deliveries)
if [[ $d == *" missing=0 duplicated=0 extra=0 mismatched=0 "* ]] &&
	[ "$(grep -c 'listening on channel' "$base/listener.log")" -ge 3 ]; then
	ok "after a PostgreSQL restart the listener reconnected and delivered task $task3's cancellation"
else notok "the listener survives a PostgreSQL restart" "$d" "$(tail -3 "$base/listener.log")"; fi
check "deliveries are in id order per recipient" grep -q ' unordered=0$' <<<"$d"
acked=$(q "SELECT count(*) FROM lagbid.notification WHERE acked_at IS NOT NULL")
check "the bridge acknowledged nothing on behalf of the recipients (acked: $acked)" [ "$acked" = 0 ]
inv=$(q "SELECT count(*) FROM lagbid.check_invariants()")
check "check_invariants() is empty" [ "$inv" = 0 ]

echo "1..$n"
[ "$failed" -eq 0 ] || { diag "$failed test(s) failed"; exit 1; }
exit 0

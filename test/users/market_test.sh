#!/usr/bin/env bash
# "From nothing to an owner and three agents on your machine"
# (docs/0.4/users.md), run as written, with only the data directory, the
# port and HOME moved into a scratch directory:
#
#   make market; the operator's logins; ~/.pgpass; the sample's local
#   conninfo (and why sslmode=verify-full fails here); three agents: init,
#   run, status; the owner's workflow through lagbid_api from its bound
#   login (publish, watch task_jobs, finalize, read the result, payments);
#   the agents' metrics; what the agent says for a wrong dbname (.pgpass)
#   and for a login bound to another node (LB107), and the lost-key
#   recovery the docs describe; make market-stop, make market again (the
#   data stays), make market-stop.
#
# TAP output; exit status non-zero on failure.  Bounded: every wait has a
# timeout.  lagbid must be installed (scripts/test.sh does it);
# LAGBID_MARKET_INSTALL=0 keeps make market from building.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
main=$(cd "$here/../.." && pwd)
. "$main/scripts/lib.sh"

slot=$(lagbid_slot)
port=$((56200 + slot))
base=/tmp/lagbid-users.$(id -u).$slot
export LAGBID_MARKET_DIR=$base/market LAGBID_MARKET_PORT=$port LAGBID_MARKET_INSTALL=0
export HOME=$base/home
agent=$(command -v lagbid-agent)

n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '#   %s\n' "${@:2}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
isnum() { [[ "$1" =~ ^[0-9]+$ ]]; }
wait_for() {
	local secs=$1 i; shift
	for i in $(seq $((secs * 5))); do "$@" && return 0; sleep 0.2; done
	return 1
}

pids=()
cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	make -s -C "$main" market-stop >/dev/null 2>&1
	if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$base"
	else
		echo "# logs kept under $base" >&2
	fi
}
trap cleanup EXIT

[ -n "$agent" ] || { echo "Bail out! lagbid-agent is not on PATH"; exit 1; }
make -s -C "$main" market-stop >/dev/null 2>&1
rm -rf "$base"
mkdir -p "$HOME"

# ---- the market ----
make -s -C "$main" market >"$base/market.out" 2>&1
check "make market starts a market" [ $? -eq 0 ]
check "it prints the data directory" grep -q "^  data directory   $LAGBID_MARKET_DIR\$" "$base/market.out"
check "it prints the operator's conninfo" grep -q "^  operator         psql \"host=$LAGBID_MARKET_DIR port=$port dbname=lagbid user=postgres\"\$" "$base/market.out"
check "it prints the conninfo for owners and agents" grep -q "^  owners, agents   host=localhost port=$port dbname=lagbid user=LOGIN\$" "$base/market.out"
check "it leaves the conninfo in the data directory" cmp -s "$base/market.out" "$LAGBID_MARKET_DIR/conninfo"
op() { psql -X -q -At -v ON_ERROR_STOP=1 "host=$LAGBID_MARKET_DIR port=$port dbname=lagbid user=postgres" "$@"; }
check "the operator connects as printed" [ "$(op -c 'SELECT 1')" = 1 ]
check "lagbid and pg_cron are installed" [ "$(op -c "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname IN ('lagbid', 'pg_cron')")" = lagbid,pg_cron ]
check "pg_cron runs lagbid.tick() every minute" [ "$(op -c "SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'lagbid-tick'")" = "* * * * * SELECT lagbid.tick()" ]
make -s -C "$main" market >"$base/market2.out" 2>&1
check "make market again: still one market, same conninfo" cmp -s "$base/market.out" "$base/market2.out"

# ---- the operator's logins (docs: step 2) ----
op >/dev/null <<'SQL'
CREATE ROLE alice LOGIN PASSWORD 'alice-secret';
GRANT lagbid_owner TO alice;
SELECT lagbid.bind_owner_login('alice', 'alice');
SELECT lagbid.deposit('alice', 100, 'alice-first-deposit');
CREATE ROLE cp1 LOGIN PASSWORD 'cp1-secret';
CREATE ROLE cp2 LOGIN PASSWORD 'cp2-secret';
CREATE ROLE cp3 LOGIN PASSWORD 'cp3-secret';
GRANT lagbid_provider TO cp1, cp2, cp3;
SQL
check "the operator creates the owner's and the providers' logins" [ $? -eq 0 ]
cat >"$HOME/.pgpass" <<PGPASS
localhost:$port:lagbid:alice:alice-secret
localhost:$port:lagbid:cp1:cp1-secret
localhost:$port:lagbid:cp2:cp2-secret
localhost:$port:lagbid:cp3:cp3-secret
PGPASS
chmod 600 "$HOME/.pgpass"

# ---- the sample's conninfo, locally (issue 23 item 3) ----
sample=$(sed -n 's/^#   conninfo = \(host=localhost .*\)$/\1/p' "$main/agent/lagbid-agent.conf.sample")
check "the sample names a local conninfo without sslmode ($sample)" \
	bash -c '[ -n "$1" ] && ! grep -q sslmode <<<"$1"' _ "$sample"
local_ci=${sample//55433/$port}
check "that conninfo connects (password from ~/.pgpass, no TLS)" \
	[ "$(psql -X -At "$local_ci" -c 'SELECT current_user' 2>&1)" = cp1 ]
psql -X -At "$local_ci sslmode=verify-full" -c 'SELECT 1' >"$base/ssl.out" 2>&1
check "sslmode=verify-full fails here with \"server does not support SSL\" (what the sample's note says)" \
	grep -q 'server does not support SSL' "$base/ssl.out"
check "the sample says so beside its conninfo" grep -q 'server does not support SSL' "$main/agent/lagbid-agent.conf.sample"

# ---- a wrong dbname: the .pgpass hint ----
"$agent" init --dir "$base/wrongdb" --conninfo "host=localhost port=$port dbname=lagbd user=cp1" \
	--region eu-west --multiaddr /ip4/127.0.0.1/tcp/4009 >"$base/wrongdb.out" 2>&1
check "a wrong dbname: init says no password was found for that line of ~/.pgpass" \
	grep -q "no password was found for localhost:$port:lagbd:cp1 in \"$HOME/.pgpass\"" "$base/wrongdb.out"
check "... and leaves nothing behind" [ ! -e "$base/wrongdb" ]

# ---- three agents (docs: step 3) ----
declare -A node
for i in 1 2 3; do
	"$agent" init --dir "$HOME/lagbid/cp$i" --conninfo "host=localhost port=$port dbname=lagbid user=cp$i" \
		--region eu-west --multiaddr "/ip4/127.0.0.1/tcp/400$i" >"$base/init$i.out" 2>&1
	check "agent $i: init registers the node" grep -qE '^registered as provider [0-9]+ \(node 12D3KooW[^,]+, region eu-west, 1 slot\)$' "$base/init$i.out"
	node[$i]=$(sed -n 's/^node id //p' "$base/init$i.out")
	"$agent" run --dir "$HOME/lagbid/cp$i" 2>"$base/run$i.log" &
	pids+=($!)
done
check "init writes the sample's markup (1.2)" grep -q '^markup = 1.2$' "$HOME/lagbid/cp1/lagbid-agent.conf"
check "the three agents are connected" wait_for 30 bash -c \
	"[ \"\$(psql -X -At 'host=$LAGBID_MARKET_DIR port=$port dbname=lagbid user=postgres' -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'\")\" = 3 ]"
"$agent" status --dir "$HOME/lagbid/cp1" >"$base/status1.out" 2>&1
check "status exits 0 with the market up" [ $? -eq 0 ]
check "status shows the slot" grep -q '^slots used 0 of 1 ' "$base/status1.out"

# ---- the owner's workflow through lagbid_api (docs: step 4) ----
owner() { psql -X -q -At -v ON_ERROR_STOP=1 "host=localhost port=$port dbname=lagbid user=alice" "$@"; }
task=$(owner -c "SELECT lagbid_api.publish_task(resources => '{\"cpu\": 1}', price_min => 0.01, price_max => 1,
	duration_hours => 1, replicas => 3, bid_limit => 3,
	workload => '{\"command\": [\"sh\", \"-c\", \"echo hello from a sandbox\"]}')")
check "the owner publishes from its own login (task $task)" isnum "$task"
reported() { [ "$(owner -c "SELECT count(*) FROM lagbid_api.task_jobs($task) WHERE state <> 'processing'")" = 3 ]; }
check "the owner watches task_jobs until the three replicas reported" wait_for 90 reported
owner -c "SELECT job_id, node_id, state, result_hash, result_verified, run_seconds IS NOT NULL FROM lagbid_api.task_jobs($task)" >"$base/jobs.out"
check "task_jobs: three submitted replicas with hashes the database computed" \
	[ "$(awk -F'|' '$3 == "submitted" && $4 ~ /^sha256:/ && $5 == "t"' "$base/jobs.out" | wc -l)" = 3 ]
# (pg_cron's minutely tick may finalize it first: then it is completed already)
finalized() { isnum "$(owner -c "SELECT lagbid_api.finalize($task)" 2>/dev/null)" ||
	[ "$(owner -c "SELECT state FROM lagbid_api.my_tasks() WHERE task_id = $task")" = completed ]; }
check "the owner finalizes" finalized
check "the owner reads the result" [ "$(owner -c "SELECT convert_from(lagbid_api.task_result($task), 'UTF8')")" = "hello from a sandbox" ]
check "the owner sees the payments: each replica paid its ask" \
	[ "$(owner -c "SELECT count(*) FROM lagbid_api.task_jobs($task) j JOIN lagbid_api.task_bids($task) b USING (bid_id) WHERE j.state = 'completed' AND j.paid = b.price AND j.paid > 0")" = 3 ]
check "and its balance is the deposit minus those payments" \
	[ "$(owner -c "SELECT lagbid_api.balance() = 100 - (SELECT sum(paid) FROM lagbid_api.task_jobs($task))")" = t ]

# ---- the agents' metrics ----
check "agent metrics: one uploaded job, one bid, connected" wait_for 10 bash -c \
	"grep -q '^lagbid_agent_jobs_total{outcome=\"uploaded\"} 1\$' '$HOME/lagbid/cp1/metrics.prom' &&
	 grep -q '^lagbid_agent_bids_total 1\$' '$HOME/lagbid/cp1/metrics.prom' &&
	 grep -q '^lagbid_agent_connected 1\$' '$HOME/lagbid/cp1/metrics.prom'"

# ---- a login bound to another node: LB107, and the lost-key recovery ----
"$agent" init --dir "$base/intruder" --conninfo "host=localhost port=$port dbname=lagbid user=cp1" \
	--region eu-west --multiaddr /ip4/127.0.0.1/tcp/4008 >"$base/lb107.out" 2>&1
check "init with a login bound to another node fails with LB107" grep -q '(SQLSTATE LB107)' "$base/lb107.out"
check "... naming the node the login is bound to" grep -q "^DETAIL:  Login \"cp1\" is bound to node \"${node[1]}\"." "$base/lb107.out"
check "... and the operator's step" grep -q "SELECT lagbid.unbind_login('cp1');" "$base/lb107.out"
check "... leaving nothing behind" [ ! -e "$base/intruder" ]
# agent 3 loses its key (docs: "Lost node key")
kill -TERM "${pids[2]}"; wait "${pids[2]}" 2>/dev/null
rm -rf "$HOME/lagbid/cp3"
"$agent" init --dir "$HOME/lagbid/cp3" --conninfo "host=localhost port=$port dbname=lagbid user=cp3" \
	--region eu-west --multiaddr /ip4/127.0.0.1/tcp/4003 >"$base/lost.out" 2>&1
check "lost key: a new key's init is refused (LB107)" grep -q '(SQLSTATE LB107)' "$base/lost.out"
check "lost key: the operator unbinds the login" [ "$(op -c "SELECT lagbid.unbind_login('cp3')")" = t ]
"$agent" init --dir "$HOME/lagbid/cp3" --conninfo "host=localhost port=$port dbname=lagbid user=cp3" \
	--region eu-west --multiaddr /ip4/127.0.0.1/tcp/4003 >"$base/lost2.out" 2>&1
check "lost key: init again registers the new node" grep -qE '^registered as provider [0-9]+ ' "$base/lost2.out"
check "lost key: the login now speaks for the new node" \
	[ "$(op -c "SELECT p.node_id FROM lagbid.login_binding b JOIN lagbid.provider p ON p.node_id = b.subject WHERE b.login = 'cp3'::regrole")" = "$(sed -n 's/^node id //p' "$base/lost2.out")" ]

# ---- stop, start again, stop ----
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()
"$agent" status --dir "$HOME/lagbid/cp1" >/dev/null 2>&1
make -s -C "$main" market-stop >"$base/stop.out" 2>&1
check "make market-stop stops it" grep -q '^lagbid market stopped; its data stays in ' "$base/stop.out"
"$agent" status --dir "$HOME/lagbid/cp1" >"$base/status-down.out" 2>&1
check "status exits 2 once the market is down" [ $? -eq 2 ]
make -s -C "$main" market >/dev/null 2>&1
check "make market starts it again with its data" [ "$(op -c "SELECT state FROM lagbid.task WHERE id = $task")" = completed ]
make -s -C "$main" market-stop >/dev/null 2>&1
check "and make market-stop stops it again" bash -c "! psql -X -At 'host=$LAGBID_MARKET_DIR port=$port dbname=lagbid user=postgres' -c 'SELECT 1' >/dev/null 2>&1"

echo "1..$n"
[ "$failed" -eq 0 ]

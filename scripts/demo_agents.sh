#!/usr/bin/env bash
# The last act of make demo: real providers.  Three lagbid-agent daemons
# (agent/) sign up with their own logins, an owner publishes a task with a
# real workload and 3 replicas, the agents bid from their own rates, run it
# in their bubblewrap sandboxes and upload what it printed; the owner
# finalizes, and we print the leader's real output and the payments.
# Then the same agents run a service space (scripts/demo_space.sh): each
# has its front proxy on its own address (127.0.0.N, a free port).
#
#   scripts/demo_agents.sh SOCKET_DIR PORT DBNAME
#
# Runs as the cluster's (non-root) user, from the staged tree.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
host=$1 port=$2 db=$3
agent=$here/agent/lagbid-agent
[ -x "$agent" ] || agent=lagbid-agent
base=$here/.agents
rm -rf "$base"
mkdir -p "$base"

q() { psql -X -q -h "$host" -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }
val() { q -At -c "$1"; }

pids=()
stop_agents() {
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
}
trap stop_agents EXIT

echo
echo "== real providers: three lagbid-agent daemons =="
# the operator creates one login per provider; the agent's signed
# registration binds it to the node's key ("easy signup")
for i in 1 2 3; do
	q -c "DROP ROLE IF EXISTS demo_cp$i; CREATE ROLE demo_cp$i LOGIN; GRANT lagbid_provider TO demo_cp$i;"
done
for i in 1 2 3; do
	dir=$base/cp$i
	"$agent" init --dir "$dir" \
		--conninfo "host=$host port=$port dbname=$db user=demo_cp$i application_name=lagbid-agent" \
		--region eu-west --multiaddr "/ip4/127.0.0.$i/tcp/400$i" --max-concurrent 2 \
		>"$base/init$i.log" 2>&1 || { cat "$base/init$i.log"; exit 1; }
	# each provider prices a core-hour its own way
	sed -i "s/^cpu_core_hour = .*/cpu_core_hour = 0.$((3 + 2 * i))/" "$dir/lagbid-agent.conf"
	# the front proxy for service leases on this node's own address, a free
	# port; probes of loopback allowed (this demo is all on 127.0.0.0/8)
	pport=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.$i', 0)); print(s.getsockname()[1])")
	sed -i -e "s/^proxy_listen = .*/proxy_listen = 127.0.0.$i:$pport/" \
		-e "s/^probe_allow_private = .*/probe_allow_private = on/" \
		-e "s/^probe_timeout_ms = .*/probe_timeout_ms = 5000/" \
		-e "s/^grace_s = .*/grace_s = 2/" -e "s/^scan_interval_s = .*/scan_interval_s = 2/" "$dir/lagbid-agent.conf"
	sed -n 's/^/  cp'"$i"': /p' "$base/init$i.log" | grep -E 'node id|detected|registered'
	"$agent" run --dir "$dir" >"$base/run$i.log" 2>&1 &
	pids+=($!)
done

for _ in $(seq 1 100); do
	[ "$(val "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'")" -ge 3 ] && break
	sleep 0.2
done

echo
echo "== an owner publishes a task with a real workload (3 replicas) =="
val "SELECT lagbid.deposit('ada', 50, 'demo-agents-ada')" >/dev/null
task=$(val "SELECT lagbid.publish_task(owner => 'ada', resources => '{\"cpu\": 1, \"memory_gb\": 1}',
	price_min => 0.5, price_max => 3, duration_hours => 1, region => 'eu',
	bid_limit => 3, replicas => 3,
	workload => '{\"command\": [\"sh\", \"-c\", \"n=0; for i in 1 2 3 4 5 6 7 8 9 10; do n=\$((n + i * i)); done; echo sum of squares 1..10 = \$n\"], \"timeout_s\": 30}')")
echo "  task $task: $(val "SELECT w.body->'command'->>2 FROM lagbid.task t JOIN lagbid.workload_body w ON w.sha256 = t.workload_sha256 WHERE t.id = $task")"

for _ in $(seq 1 300); do
	[ "$(val "SELECT count(*) FROM lagbid.job WHERE task_id = $task AND state <> 'processing'")" -ge 3 ] && break
	sleep 0.2
done

echo
echo "== what the agents did (one log line per decision) =="
grep -hE "bid [0-9]+ placed on task $task |job [0-9]+ of task $task (started|result uploaded)" "$base"/run?.log |
	sort | sed 's/^[0-9-]* [0-9:.]* UTC \[[0-9]*\] /  /' | head -12

echo
echo "== the owner finalizes: the leading node, and the payments =="
val "SELECT lagbid.finalize($task)" >/dev/null
q -c "SELECT j.id AS job, left(p.node_id, 16) || '...' AS provider, j.price AS ask, j.state, j.is_leader,
             left(j.result_hash, 19) || '...' AS result_hash, j.paid
        FROM lagbid.job j JOIN lagbid.provider p ON p.id = j.provider_id
       WHERE j.task_id = $task ORDER BY j.id"
echo "the leader's output, read by the owner with task_result():"
val "SELECT '  ' || convert_from(lagbid.task_result($task), 'UTF8')"
q -c "SELECT 'sha256:' || encode(sha256(lagbid.task_result($task)), 'hex') = j.result_hash AS hash_verified
        FROM lagbid.task t JOIN lagbid.job j ON j.id = t.leader_job_id WHERE t.id = $task"
q -c "SELECT left(p.node_id, 16) || '...' AS provider, lagbid.balance(p.node_id, holder_kind => 'provider') AS balance
        FROM lagbid.provider p WHERE p.id IN (SELECT provider_id FROM lagbid.job WHERE task_id = $task) ORDER BY p.id"
echo "ada's balance: $(val "SELECT lagbid.balance('ada')")"
echo "broken invariants: $(val "SELECT count(*) FROM lagbid.check_invariants()")"
echo
"$agent" status --dir "$base/cp1" | sed 's/^/  /'

bash "$here/scripts/demo_space.sh" "$host" "$port" "$db" "$base" "${pids[@]}"

# Real lagbid-agents through a failover: sourced by test/ha/run.sh, which
# calls these functions at its steps (it provides q, ok, notok, check, diag,
# wait_for, start_as_postgres, pid_of, kill_ours, BASE, PG_PORT, PSQL, PY).
#
#   agents_start      build agent/, three agents (logins cp1..cp3, own keys
#                     and configs) with a multi-host conninfo
#                     (target_session_attrs=read-write), an owner publishing
#                     a task every HA_PUBLISH_GAP s (a 2 s workload that
#                     prints 700 kB) and a finalizer, both over the same
#                     multi-host conninfo
#   agents_hold_uploads   before the kill: a lock on lagbid.result holds the
#                     agents' uploads in flight (they wait on the primary)
#   agents_snapshot   at the kill: what the agents had logged (acknowledged)
#   agents_after_failover, agents_settle, agents_after_rejoin: the checks
# shellcheck shell=bash

AGENTS=3
ADSN="host=127.0.0.1,127.0.0.1 port=${PG_PORT[1]},${PG_PORT[2]} dbname=market target_session_attrs=read-write connect_timeout=3"
agent_bg=()

# psql over the multi-host conninfo, as the platform (postgres)
mq() { "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -d "$ADSN user=postgres" -c "$1" 2>&1; }

agents_start() {
	local i out
	make -C "$root/agent" -s PG_CONFIG="$(command -v pg_config)" >"$BASE/agent-build.log" 2>&1 ||
		bail "agent/ did not build (see $BASE/agent-build.log)"
	install -o postgres -m 755 "$root/agent/lagbid-agent" "$BASE/lagbid-agent"
	q 1 "SELECT lagbid.deposit(account => 'ha-jobs', amount => 1000000, reference => 'ha-jobs-seed')" >/dev/null
	for i in $(seq $AGENTS); do
		q 1 "CREATE ROLE cp$i LOGIN; GRANT lagbid_provider TO cp$i" >/dev/null
		if ! out=$(runuser -u postgres -- "$BASE/lagbid-agent" init --dir "$BASE/agent$i" \
			--conninfo "$ADSN user=cp$i" --region eu-west --multiaddr "/ip4/127.0.0.1/tcp/$((5100 + i))" \
			--max-concurrent 3 2>&1); then
			notok "agent $i: init over the multi-host conninfo"; echo "$out" | sed 's/^/#   /'; return 1
		fi
		# asks at cost 0 (price_min), only the test owner's tasks (setup.sql's
		# tasks never close), a scan every 5 s
		sed -i -e 's/^cpu_core_hour = .*/cpu_core_hour = 0/' -e 's/^memory_gb_hour = .*/memory_gb_hour = 0/' \
			-e 's/^storage_gb_hour = .*/storage_gb_hour = 0/' -e 's/^scan_interval_s = .*/scan_interval_s = 5/' \
			-e 's/^allow = .*/allow = ha-jobs/' "$BASE/agent$i/lagbid-agent.conf"
		start_as_postgres "agent$i" "$BASE/agent$i.log" "$BASE/lagbid-agent" run --dir "$BASE/agent$i" --json ||
			{ notok "agent $i started"; return 1; }
	done
	if wait_for 30 bash -c "[ \"\$($PSQL -X -qAt -h 127.0.0.1 -p ${PG_PORT[1]} -U postgres -d market -c \"SELECT count(DISTINCT usename) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'\")\" = $AGENTS ]"; then
		ok "$AGENTS real lagbid-agents (own logins, keys, configs) are connected to the primary over \"$ADSN\""
	else
		notok "$AGENTS agents connected to the primary"; return 1
	fi
	: >"$BASE/published.txt"
	# the owner: a task every HA_PUBLISH_GAP s while the load runs; a
	# publish that fails (the failover) is retried by the next one
	(
		until [ -f "$BASE/stop-publishing" ]; do
			r=$(mq "SELECT lagbid.publish_task('ha-jobs', '{\"cpu\": 1}', 1, 2, 1, bid_limit => 1,
			        workload => '{\"command\": [\"sh\", \"-c\", \"sleep 2; yes lagbid-ha-result | head -c 700000\"], \"timeout_s\": 120}'::jsonb)")
			[[ "$r" =~ ^[0-9]+$ ]] && echo "$r $(date +%s.%N)" >>"$BASE/published.txt"
			sleep "${HA_PUBLISH_GAP:-0.7}"
		done
	) 9>&- &
	agent_bg+=($!)
	# the finalizer (as the tick does each minute, but at once)
	(
		until [ -f "$BASE/stop-finalizing" ]; do
			mq "SELECT count(lagbid.finalize(t.id)) FROM lagbid.task t
			     WHERE t.owner = 'ha-jobs' AND t.state = 'processing'
			       AND NOT EXISTS (SELECT 1 FROM lagbid.job j WHERE j.task_id = t.id AND j.state = 'processing')" >/dev/null
			sleep 0.5
		done
	) 9>&- &
	agent_bg+=($!)
}

# the agents' uploads wait on a lock held on the primary: at the kill they
# are in flight (sent, not committed)
agents_hold_uploads() {
	local waiting
	(
		"$PSQL" -X -q -h 127.0.0.1 -p "${PG_PORT[1]}" -U postgres -d market \
			-c "BEGIN; LOCK TABLE lagbid.result IN EXCLUSIVE MODE; SELECT pg_sleep(300);" >/dev/null 2>&1
	) 9>&- &
	agent_bg+=($!)
	wait_for 20 bash -c "[ \"\$($PSQL -X -qAt -h 127.0.0.1 -p ${PG_PORT[1]} -U postgres -d market -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent' AND wait_event_type = 'Lock' AND query LIKE '%upload_result%'\")\" -ge 2 ]"
	waiting=$(q 1 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent' AND wait_event_type = 'Lock' AND query LIKE '%upload_result%'")
	check "agents' uploads in flight at the kill: $waiting upload_result() calls waiting on the primary" [ "$waiting" -ge 2 ]
	diag "the agents' jobs before the kill: $(q 1 "SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT j.state::text, count(*) n FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id WHERE t.owner = 'ha-jobs' GROUP BY 1) s")"
}

agents_snapshot() {
	local i
	for i in $(seq $AGENTS); do cp "$BASE/agent$i.log" "$BASE/agent$i.at-kill.log"; done
	# bids the agents logged as placed: the market acknowledged them
	cat "$BASE"/agent*.at-kill.log | $PY -c '
import json, re, sys
for line in sys.stdin:
    try:
        m = json.loads(line)["message"]
    except Exception:
        continue
    r = re.match(r"bid (\d+) placed on task (\d+)", m)
    if r:
        print(r.group(1), r.group(2))' >"$BASE/agent-bids.txt"
	jobs_in_flight=$(q 1 "SELECT count(*) FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id WHERE t.owner = 'ha-jobs' AND j.state = 'processing'")
}

# seconds from $1 (epoch) until every agent has a session on node $2; "" on timeout
agents_back_on() {
	local since=$1 node=$2 t
	for _ in $(seq 60); do
		if [ "$(q "$node" "SELECT count(DISTINCT usename) FROM pg_stat_activity WHERE application_name = 'lagbid-agent' AND usename LIKE 'cp%'")" = $AGENTS ]; then
			t=$(date +%s.%N)
			awk -v a="$since" -v b="$t" 'BEGIN { printf "%.1f", b - a }'
			return 0
		fi
		sleep 0.5
	done
}

agents_after_failover() { # agents_after_failover KILL_AT PROMOTED_AT
	local back
	back=$(agents_back_on "$2" 2)
	check "every agent is back on the new primary (node2) within 15 s of the promotion (${back:-not} s; $(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }') s from the kill to the promotion; $jobs_in_flight jobs processing at the kill)" \
		awk -v b="${back:-99}" 'BEGIN { exit !(b <= 15) }'
	local nbids
	nbids=$(wc -l <"$BASE/agent-bids.txt")
	if [ "$nbids" -gt 0 ]; then
		r=$(awk 'BEGIN { printf "WITH acked (bid_id, task_id) AS (VALUES " } { printf "%s(%s, %s)", (NR > 1 ? "," : ""), $1, $2 } END { print ")" }' "$BASE/agent-bids.txt"
			echo "SELECT count(*) FROM acked a LEFT JOIN lagbid.bid b ON b.id = a.bid_id AND b.task_id = a.task_id WHERE b.id IS NULL")
		r=$("$PSQL" -X -qAt -h 127.0.0.1 -p "${PG_PORT[2]}" -U postgres -d market -c "$r" 2>&1)
		check "all $nbids bids the agents logged as placed before the kill are on the new primary (missing: $r)" [ "$r" = 0 ]
	else
		notok "the agents placed bids before the kill"
	fi
}

# after the publisher stopped: every task settles, nothing twice
agents_settle() {
	local left r
	touch "$BASE/stop-publishing"
	wait_for 120 bash -c "[ \"\$($PSQL -X -qAt -h 127.0.0.1 -p ${PG_PORT[2]} -U postgres -d market -c \"SELECT count(*) FROM lagbid.task WHERE owner = 'ha-jobs' AND state NOT IN ('completed', 'failed', 'cancelled')\")\" = 0 ]"
	left=$(q 2 "SELECT count(*) FROM lagbid.task WHERE owner = 'ha-jobs' AND state NOT IN ('completed', 'failed', 'cancelled')")
	r=$(q 2 "SELECT count(*) || ' tasks: ' || string_agg(DISTINCT state::text, ',') FROM lagbid.task WHERE owner = 'ha-jobs'")
	check "every task the owner published settled within 120 s ($r; $left not settled)" [ "$left" = 0 ]
	# every publish the owner had acknowledged is there
	r=$(awk 'BEGIN { printf "SELECT count(*) FROM (VALUES " } { printf "%s(%s)", (NR > 1 ? "," : ""), $1 } END { print ") v(id) LEFT JOIN lagbid.task t ON t.id = v.id WHERE t.id IS NULL" }' "$BASE/published.txt")
	r=$(q 2 "$r")
	check "every task published (acknowledged) is on the new primary ($(wc -l <"$BASE/published.txt") published, $r missing)" [ "$r" = 0 ]
	r=$(q 2 "SELECT count(*) FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id WHERE t.owner = 'ha-jobs' AND j.state = 'processing'")
	check "no job is left processing ($r)" [ "$r" = 0 ]
	r=$(q 2 "SELECT count(*) FILTER (WHERE j.state = 'completed') || ' completed, ' || count(*) FILTER (WHERE j.state <> 'completed') || ' not: ' || coalesce(string_agg(DISTINCT j.state || ' ' || coalesce(j.reason, ''), '; ') FILTER (WHERE j.state <> 'completed'), '-') FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id WHERE t.owner = 'ha-jobs'")
	check "every job of the owner's tasks completed, none lost ($r)" bash -c "[[ '$r' == *' completed, 0 not: -' ]]"
	r=$(q 2 "SELECT count(*) FROM (SELECT entity_id FROM lagbid.event WHERE entity = 'job' AND to_state = 'submitted' GROUP BY entity_id HAVING count(*) > 1) d")
	check "no upload applied twice: no job entered 'submitted' twice ($r jobs did)" [ "$r" = 0 ]
	r=$(q 2 "SELECT count(*) FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id LEFT JOIN lagbid.result res ON res.job_id = j.id WHERE t.owner = 'ha-jobs' AND j.state = 'completed' AND (res.job_id IS NULL OR res.bytes <> 700000 OR j.result_hash <> 'sha256:' || res.sha256)")
	check "every completed job has exactly its 700000-byte upload, hash as computed ($r do not)" [ "$r" = 0 ]
	r=$(q 2 "SELECT count(*) FROM (SELECT job_id FROM lagbid.ledger_tx WHERE kind = 'payment' AND job_id IS NOT NULL GROUP BY job_id HAVING count(*) > 1) d")
	check "no job paid twice ($r jobs have two payments)" [ "$r" = 0 ]
	r=$(q 2 "SELECT count(*) FROM lagbid.job j JOIN lagbid.task t ON t.id = j.task_id WHERE t.owner = 'ha-jobs' AND j.state = 'completed' AND NOT EXISTS (SELECT 1 FROM lagbid.ledger_tx x WHERE x.kind = 'payment' AND x.job_id = j.id)")
	check "every completed job is paid ($r are not)" [ "$r" = 0 ]
	# what the agents said
	local i lost back up
	for i in $(seq $AGENTS); do
		lost=$(tail -c +"$(($(stat -c %s "$BASE/agent$i.at-kill.log") + 1))" "$BASE/agent$i.log" | grep -c 'lost the market connection' || true)
		back=$(tail -c +"$(($(stat -c %s "$BASE/agent$i.at-kill.log") + 1))" "$BASE/agent$i.log" | grep -c "connected to the market at 127.0.0.1:${PG_PORT[2]} as .* after a disconnection" || true)
		up=$(tail -c +"$(($(stat -c %s "$BASE/agent$i.at-kill.log") + 1))" "$BASE/agent$i.log" | grep -c 'result uploaded' || true)
		check "agent $i's log says what happened: lost the connection ($lost), connected to node2 after a disconnection ($back), uploads after it ($up)" \
			bash -c "[ $lost -ge 1 ] && [ $back -ge 1 ]"
	done
	diag "agent 1 around the failover: $(tail -c +"$(($(stat -c %s "$BASE/agent1.at-kill.log") + 1))" "$BASE/agent1.log" | grep -E 'connect|report|upload' | head -6 | $PY -c 'import json,sys; print(" | ".join(json.loads(l)["message"][:120] for l in sys.stdin if l.strip()))' 2>/dev/null)"
}

# the old primary is back as a replica (first in the conninfo): cut the
# agents' sessions; they must come back to node2, never to node1
agents_after_rejoin() {
	local t back on1
	t=$(date +%s.%N)
	q 2 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'" >/dev/null
	sleep 0.5
	back=$(agents_back_on "$t" 2)
	on1=$(q 1 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lagbid-agent'")
	check "with node1 back as a replica, agents cut off reconnect to the primary node2 within 15 s (${back:-not} s) and none to node1 ($on1)" \
		bash -c "awk -v b='${back:-99}' 'BEGIN { exit !(b <= 15) }' && [ '$on1' = 0 ]"
}

agents_stop() {
	local p i
	touch "$BASE/stop-publishing" "$BASE/stop-finalizing" 2>/dev/null
	for p in "${agent_bg[@]}"; do kill "$p" 2>/dev/null; done
	for i in $(seq $AGENTS); do kill_ours TERM "$(pid_of "agent$i")"; done
}

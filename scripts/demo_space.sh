#!/usr/bin/env bash
# The very last act of make demo: a service space (issue 21) on the three
# lagbid-agent daemons that demo_agents.sh started.  An owner creates a
# space whose workload is a running app (python3 -m http.server serving a
# page); the agents bid, one wins and starts the app in its sandbox behind
# its front proxy and reports the endpoint; the owner fetches the page
# through that proxy; the other two agents probe it window by window and
# the provider is paid per window; the owner extends the space; at expiry
# the provider tears the app down (no process left) and the money closes.
#
#   scripts/demo_space.sh SOCKET_DIR PORT DBNAME AGENTS_DIR AGENT_PID...
#
# Time is the market clock: lagbid.clock set with ALTER SYSTEM (so the
# agents' sessions see it too) and moved by this script, with
# lagbid.probe_window = 10 s; nothing waits for real minutes.  Every wait is
# bounded and says what it waited for.  Runs as the cluster's user.
set -euo pipefail
host=$1 port=$2 db=$3 base=$4
shift 4
agent_pids=("$@")

q() { psql -X -q -h "$host" -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"; }
val() { q -At -c "$1"; }
fail() {
	echo "demo_space: $*" >&2
	exit 1
}
# wait_for SQL WHAT SECONDS: until SQL returns t
wait_for() {
	local deadline=$((SECONDS + $3))
	until [ "$(val "$1")" = t ]; do
		[ $SECONDS -lt "$deadline" ] || fail "timed out after $3 s waiting for: $2"
		sleep 0.2
	done
}
# wait_log REGEX WHAT SECONDS: until an agent's log has a line matching REGEX
wait_log() {
	local deadline=$((SECONDS + $3))
	until grep -qE -- "$1" "$base"/run?.log; do
		[ $SECONDS -lt "$deadline" ] || fail "timed out after $3 s waiting for the agent to log: $2"
		sleep 0.2
	done
}
agent_line() { grep -hE -- "$1" "$base"/run?.log | tail -1 | sed 's/^[0-9-]* [0-9:.]* UTC \[[0-9]*\] /  /'; }

# the market clock: seconds after t0 (the real time when the act starts)
t0=$(val "SELECT extract(epoch FROM date_trunc('second', now()))::bigint")
clock=0
set_clock() {
	clock=$1
	local want
	want=$(val "SELECT to_timestamp($t0 + $clock)")
	# (the lagbid.* settings exist once the session loaded lagbid)
	q -c "SELECT lagbid.now()" -c "ALTER SYSTEM SET lagbid.clock = '$want'" -c "SELECT pg_reload_conf()" >/dev/null
	wait_for "SELECT lagbid.now() = '$want'::timestamptz" "the market clock at $want" 10
	# the agents' sessions read the new value before their next statement
	sleep 0.3
}
tick() { val "SELECT lagbid.tick()" >/dev/null; }
restore() {
	q -c "SELECT lagbid.now()" -c "ALTER SYSTEM RESET lagbid.clock" -c "ALTER SYSTEM RESET lagbid.probe_window" \
		-c "ALTER SYSTEM RESET lagbid.probers_per_window" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
trap restore EXIT

# the app's process on this host: a python3 -m http.server 8080 whose
# ancestors include one of the demo's agents (other checkouts may run apps)
app_pid() {
	local p cmd up depth a
	for p in /proc/[0-9]*; do
		{ cmd=$(tr '\0' ' ' <"$p/cmdline"); } 2>/dev/null || continue
		[[ $cmd == "python3 -m http.server 8080 "* ]] || continue
		up=${p#/proc/}
		for ((depth = 0; depth < 8; depth++)); do
			up=$(awk '/^PPid:/ {print $2}' "/proc/$up/status" 2>/dev/null) || break
			if [ -z "$up" ] || [ "$up" = 0 ]; then
				break
			fi
			for a in "${agent_pids[@]}"; do
				if [ "$up" = "$a" ]; then
					echo "${p#/proc/}"
					return 0
				fi
			done
		done
	done
	return 0
}

echo
echo "== a service space: an app deployed, probed per window, extended, torn down =="
q -c "SELECT lagbid.now()" -c "ALTER SYSTEM SET lagbid.probe_window = 10" -c "ALTER SYSTEM SET lagbid.probers_per_window = 2" >/dev/null
set_clock 0
# the simulated providers of the SQL acts never answer a probe: they go
# offline (suspended), so the probers the tick picks are the real agents
n=$(val "SELECT count(lagbid.set_provider_state(p.id, 'suspended')) FROM lagbid.provider p
          WHERE p.state = 'active' AND p.node_id NOT IN
                (SELECT b.subject FROM lagbid.login_binding b
                  WHERE b.kind = 'provider' AND b.login::text IN ('demo_cp1', 'demo_cp2', 'demo_cp3'))")
echo "  the $n simulated providers of the SQL acts are suspended: the three agents are the market's providers now"
q -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS demo_grace" -c "CREATE ROLE demo_grace LOGIN" -c "GRANT lagbid_owner TO demo_grace"
val "SELECT lagbid.deposit('grace', 20, 'demo-space-grace')" >/dev/null
val "SELECT lagbid.bind_owner_login('grace', 'demo_grace')" >/dev/null

# the app: python3's own HTTP server on port 8080 inside the sandbox,
# serving its working directory (the inputs: a page and a health file)
b64() { printf '%s' "$1" | base64 -w0; }
page='<h1>Hello from a lagbid service space</h1>
<p>served by a provider'"'"'s sandbox, reached through its front proxy</p>
'
workload="{\"command\": [\"python3\", \"-m\", \"http.server\", \"8080\", \"--bind\", \"127.0.0.1\"],
  \"inputs\": [{\"path\": \"index.html\", \"content_base64\": \"$(b64 "$page")\"},
             {\"path\": \"healthz\", \"content_base64\": \"$(b64 'ok
')\"}],
  \"service\": {\"port\": 8080, \"health_path\": \"/healthz\", \"expected_status\": 200, \"startup_timeout_s\": 600}}"
# 0.25 h: the reservation outlasts the space's 10-minute bidding window
space=$(val "SELECT lagbid.create_space('grace', 'hello-page', '{\"cpu\": 1}', 0.5, 2, 0.25,
	workload => '$workload'::jsonb, kind => 'service')")
task=$(val "SELECT lagbid.trigger_space($space)")
echo "  grace's space $space (kind service, 0.25 h at most 2/h): task $task runs \`python3 -m http.server 8080\`"
wait_for "SELECT count(*) >= 3 FROM lagbid.bid WHERE task_id = $task" "the three agents' bids on task $task" 30
q -c "SELECT b.id AS bid, left(p.node_id, 16) || '...' AS provider, b.price AS ask_per_hour
        FROM lagbid.bid b JOIN lagbid.provider p ON p.id = b.provider_id WHERE b.task_id = $task ORDER BY b.id"

# past the 10-minute bidding window: the tick allocates, the lease starts
set_clock 601
tick
wait_for "SELECT EXISTS (SELECT FROM lagbid.lease WHERE task_id = $task)" "a lease for task $task" 20
read -r lease name <<<"$(val "SELECT id || ' ' || name FROM lagbid.lease WHERE task_id = $task")"
wait_for "SELECT state = 'ready' FROM lagbid.lease WHERE id = $lease" "lease $lease ready (the app started, its endpoint reported)" 60
winner=$(val "SELECT left(p.node_id, 16) || '..., ask ' || l.price || '/h' FROM lagbid.lease l
	JOIN lagbid.provider p ON p.id = l.provider_id WHERE l.id = $lease")
echo "lease $lease ($name) goes to $winner; its agent starts the app in its sandbox, reports the endpoint:"
agent_line "service $name started in the sandbox"
agent_line "lease $lease \\($name\\) ready: endpoint"
ep=$(q -At -U demo_grace -c "SELECT endpoint FROM lagbid_api.space_status($space) LIMIT 1")
[ -n "$ep" ] || fail "space_status shows no endpoint for space $space"
echo "the owner reads the endpoint with lagbid_api.space_status($space): $ep"
first=$(curl -s -m 5 "$ep" | head -1) || true
[ -n "$first" ] || fail "no page at $ep"
echo "  curl $ep"
echo "  $first"

# windows: move the clock one window, tick (it settles the window that
# closed and assigns two probers to the new one), wait for their reports
window() {
	set_clock $((clock + 10))
	tick
	wait_for "SELECT count(*) > 0 AND count(*) FILTER (WHERE reported_at IS NULL) = 0 FROM lagbid.probe
	           WHERE lease_id = $lease AND window_start <= lagbid.now() AND window_end > lagbid.now()" \
		"the probers' reports of the window at +$clock s" 30
}
window
window
window
set_clock $((clock + 10))
tick
echo
echo "the other two agents probe the endpoint (signed answers), the tick settles each 10 s window:"
agent_line "probe [0-9]+: up \\(status 200"
q -c "SELECT to_char(w.window_start, 'HH24:MI:SS') AS window, w.outcome, w.probers, w.reported,
             count(p.*) FILTER (WHERE p.ok) AS probes_ok, w.paid, w.refunded
        FROM lagbid.lease_window w
        LEFT JOIN lagbid.probe p ON p.lease_id = w.lease_id AND p.window_start = w.window_start
       WHERE w.lease_id = $lease GROUP BY w.lease_id, w.window_start ORDER BY w.window_start"
q -U demo_grace -c "SELECT lease_name, state, windows_up, windows_down, windows_unprobed, paid, refunded
                      FROM lagbid_api.space_status($space)"

echo "the owner extends the space by 0.01 h (36 s): the lease's reserved_until moves, nothing redeployed"
before=$(val "SELECT reserved_until FROM lagbid.lease WHERE id = $lease")
val "SELECT lagbid.extend_space($space, 0.01)" >/dev/null
after=$(val "SELECT reserved_until FROM lagbid.lease WHERE id = $lease")
echo "  reserved_until $before -> $after ($(val "SELECT extract(epoch FROM '$after'::timestamptz - '$before'::timestamptz)::int") s)"
wait_log "lease $lease \\($name\\) extended: reserved until" "the extension of lease $lease" 30
agent_line "lease $lease \\($name\\) extended"

echo
echo "at reserved_until the market expires the lease; the provider tears the app down:"
pid=$(app_pid)
[ -n "$pid" ] || fail "the app of lease $lease is not running before its expiry"
set_clock $(($(val "SELECT extract(epoch FROM reserved_until)::bigint FROM lagbid.lease WHERE id = $lease") - t0 + 1))
tick
wait_for "SELECT state = 'torn_down' FROM lagbid.lease WHERE id = $lease" "lease $lease torn down by its provider" 30
wait_log "service $name torn down after [0-9.]+ s: no process left" "the teardown of $name" 10
agent_line "service $name torn down after"
q -c "SELECT string_agg(coalesce(from_state, '-') || ' -> ' || to_state, ', ' ORDER BY id) AS lease_states
        FROM lagbid.event WHERE entity = 'lease' AND entity_id = $lease"
gone=yes
kill -0 "$pid" 2>/dev/null && gone=no
[ -z "$(app_pid)" ] || gone=no
echo "the app's process $pid is gone: $gone; the endpoint now answers $(curl -s -o /dev/null -w '%{http_code}' -m 5 "$ep" || true)"
[ $gone = yes ] || fail "a process of lease $lease is left after its teardown"

echo
echo "the money of the lease, to the unit (escrow taken = paid + refunded + returned); the windows"
echo "the clock jumped over were not probed: paid as up (a gap on the market's side never counts"
echo "against the provider), the owner's share above the ask refunded each window:"
q -c "SELECT l.state, l.windows_up, l.windows_unprobed, l.windows_down, l.taken AS escrow_taken, l.paid, l.refunded, l.returned,
             l.paid + l.refunded + l.returned = l.taken AS closes,
             (SELECT state FROM lagbid.job WHERE id = l.job_id) AS job
        FROM lagbid.lease l WHERE l.id = $lease"
echo "broken invariants after the space: $(val "SELECT count(*) FROM lagbid.check_invariants()")"

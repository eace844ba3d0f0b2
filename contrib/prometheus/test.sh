#!/usr/bin/env bash
# The real prometheus-postgres-exporter (Debian 12's 0.11) with
# contrib/prometheus/queries.yaml against a throwaway cluster: every lagbid_*
# series is in its /metrics, with the values the market has.  TAP output.
#
# The exporter listens on 127.0.0.1 only (port 9300 + slot) and every wait
# is bounded; on the cluster (port 56300 + slot) pg_cron schedules the tick,
# so that pg_cron's timing of the tick is exported too.
#
#   contrib/prometheus/test.sh          (lagbid installed: scripts/test.sh does it)
#   KEEP=1 contrib/prometheus/test.sh   keep the directory and its logs
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
main=$(cd "$here/../.." && pwd)
. "$main/scripts/lib.sh"

exporter=${LAGBID_POSTGRES_EXPORTER:-/usr/bin/prometheus-postgres-exporter}
slot=$(lagbid_slot)
pgport=$((56300 + slot))
webport=$((9300 + slot))
base=/tmp/lagbid-prometheus.$(id -u).$slot
db=lagbid

n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '#   %s\n' "${@:2}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
wait_for() {
	local secs=$1 i; shift
	for i in $(seq $((secs * 5))); do "$@" && return 0; sleep 0.2; done
	return 1
}

xpid=
cleanup() {
	local rc=$?
	[ -n "$xpid" ] && kill "$xpid" 2>/dev/null && wait "$xpid" 2>/dev/null
	bash "$main/scripts/cluster.sh" stop "$base/data" >/dev/null 2>&1
	if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$base" "$base/data.initdb.log"
	else
		echo "# logs kept under $base" >&2
	fi
}
trap cleanup EXIT

if [ ! -x "$exporter" ]; then
	echo "1..0 # SKIP $exporter is not installed (scripts/deps.sh installs prometheus-postgres-exporter)"
	exit 0
fi
bash "$main/scripts/cluster.sh" stop "$base/data" >/dev/null 2>&1
rm -rf "$base" "$base/data.initdb.log"
mkdir -p "$base"
bash "$main/scripts/cluster.sh" start "$base/data" "$pgport" "$db" >"$base/cluster.log" 2>&1 ||
	{ echo "Bail out! the test cluster did not start"; cat "$base/cluster.log"; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$base/data" -p "$pgport" -U postgres -d "$db" "$@"; }

# the market: tasks in three states, open bids, a completed job paid,
# pending notifications, a suspended provider
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION lagbid;
SELECT lagbid.deposit('alice', 1000, 'prom-a');
SELECT lagbid.register_provider(lagbid.peer_id_from_ed25519(sha256(n::text::bytea)),
                                ARRAY['/ip4/10.0.0.' || n || '/tcp/4001'], 'eu', '{"cpu": 8}', 5)
  FROM generate_series(1, 3) n;
SELECT lagbid.set_provider_state(3, 'suspended');
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, auto_allocate => false);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, open => false);
SELECT lagbid.place_bid(1, 1, 4), lagbid.place_bid(1, 2, 6), lagbid.place_bid(2, 1, 5);
SELECT lagbid.upload_result(1, 'out');
SELECT lagbid.finalize(2);
SQL
check "a market with tasks, bids, a paid job and notifications" [ $? -eq 0 ]
# the tick: once by hand now, and scheduled with pg_cron.  Debian 12's
# pg_cron (1.4) schedules by the minute at best, so instead of waiting for
# its first run the test writes the run record pg_cron would write (a
# succeeded run of 0.25 s) into cron.job_run_details, the table the
# exporter's query reads; LAGBID_PROMETHEUS_WAIT_CRON=1 waits for a real run.
q -c "SET client_min_messages = error; SELECT lagbid.tick(); SELECT lagbid.schedule_tick()" >/dev/null
check "the tick ran and pg_cron schedules it" [ "$(q -c "SELECT count(*) FROM cron.job WHERE jobname = 'lagbid-tick'")" = 1 ]
if [ -n "${LAGBID_PROMETHEUS_WAIT_CRON:-}" ]; then
	check "pg_cron has run the tick" wait_for 75 bash -c \
		"[ \"\$(psql -X -At -h '$base/data' -p $pgport -U postgres -d $db -c \"SELECT count(*) FROM cron.job_run_details WHERE status = 'succeeded'\")\" -gt 0 ]"
else
	q -c "INSERT INTO cron.job_run_details (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)
	      SELECT jobid, 1, database, username, command, 'succeeded', '1 row', now() - interval '2 s', now() - interval '1.75 s'
	        FROM cron.job WHERE jobname = 'lagbid-tick'" >/dev/null
	check "a pg_cron run of the tick is recorded" [ "$(q -c "SELECT count(*) FROM cron.job_run_details")" = 1 ]
fi
psql -X -q -h "$base/data" -p "$pgport" -U postgres -d "$db" -v exporter_password=prom-only \
	-f "$here/exporter.sql" >"$base/exporter-sql.log" 2>&1
check "exporter.sql creates the exporter's login" [ $? -eq 0 ]
check "the exporter's login reads lagbid.metrics() and no table" bash -c \
	"psql -X -At -h '$base/data' -p $pgport -U lagbid_exporter -d $db -c 'SELECT count(*) > 0 FROM lagbid.metrics()' | grep -qx t &&
	 ! psql -X -At -h '$base/data' -p $pgport -U lagbid_exporter -d $db -c 'SELECT count(*) FROM lagbid.task' >/dev/null 2>&1 &&
	 ! psql -X -At -h '$base/data' -p $pgport -U lagbid_exporter -d $db -c \"SELECT lagbid.deposit('x', 1, 'y')\" >/dev/null 2>&1"

# the exporter, on the loopback only
DATA_SOURCE_NAME="host=$base/data port=$pgport dbname=$db user=lagbid_exporter sslmode=disable" \
	timeout 120 "$exporter" --web.listen-address="127.0.0.1:$webport" \
	--extend.query-path="$here/queries.yaml" --disable-settings-metrics \
	--log.level=warn >"$base/exporter.log" 2>&1 &
xpid=$!
scrape() { curl -s --max-time 10 "http://127.0.0.1:$webport/metrics" >"$base/metrics.txt" && grep -q '^lagbid_tasks_count' "$base/metrics.txt"; }
check "the exporter serves lagbid_* series on 127.0.0.1:$webport/metrics" wait_for 30 scrape
check "it listens on the loopback only" bash -c "! ss -ltn 2>/dev/null | grep -q '0.0.0.0:$webport\|\\*:$webport'"

check "tasks by state: 1 accepting bids" grep -qE '^lagbid_tasks_count\{.*state="accepting_bids".*\} 1$' "$base/metrics.txt"
for st in created completed failed cancelled bid_closed processing; do
	check "lagbid_tasks_count has state $st" grep -qE "^lagbid_tasks_count\\{.*state=\"$st\".*\\} [0-9]" "$base/metrics.txt"
done
check "completed: 1" grep -qE '^lagbid_tasks_count\{.*state="completed".*\} 1$' "$base/metrics.txt"
for s in lagbid_bids_open lagbid_bids_won lagbid_bids_jobs_live \
	lagbid_tick_last_run_timestamp_seconds lagbid_tick_seconds_since_last_run lagbid_tick_skipped \
	lagbid_tick_failing_rows lagbid_tick_last_duration_seconds lagbid_tick_cron_runs_failed_last_hour \
	lagbid_notifications_pending lagbid_notifications_oldest_pending_age_seconds \
	lagbid_providers_active lagbid_providers_suspended lagbid_providers_verified; do
	check "series $s" grep -qE "^$s(\\{[^}]*\\})? [-0-9.e+]+\$" "$base/metrics.txt"
done
check "open bids: 2" grep -qE '^lagbid_bids_open(\{[^}]*\})? 2$' "$base/metrics.txt"
check "providers: 2 active, 1 suspended, 0 verified (registered unsigned)" bash -c \
	"grep -qE '^lagbid_providers_active(\\{[^}]*\\})? 2\$' '$base/metrics.txt' &&
	 grep -qE '^lagbid_providers_suspended(\\{[^}]*\\})? 1\$' '$base/metrics.txt' &&
	 grep -qE '^lagbid_providers_verified(\\{[^}]*\\})? 0\$' '$base/metrics.txt'"
check "ledger volume by kind: deposits of 1000" grep -qE '^lagbid_ledger_volume\{.*kind="deposit".*\} 1000$' "$base/metrics.txt"
check "ledger: the payment of 5" grep -qE '^lagbid_ledger_volume\{.*kind="payment".*\} 5$' "$base/metrics.txt"
check "ledger volume is a counter" grep -q '^# TYPE lagbid_ledger_volume counter$' "$base/metrics.txt"
check "the tick's last run is recent" bash -c \
	"awk '/^lagbid_tick_seconds_since_last_run/ { v = \$NF; f = 1 } END { exit !(f && v >= 0 && v < 60) }' '$base/metrics.txt'"
check "pg_cron timed the tick" bash -c \
	"awk '/^lagbid_tick_last_duration_seconds/ { v = \$NF; f = 1 } END { exit !(f && v >= 0 && v < 10) }' '$base/metrics.txt'"
check "notifications pending > 0" bash -c \
	"awk '/^lagbid_notifications_pending/ { v = \$NF; f = 1 } END { exit !(f && v > 0) }' '$base/metrics.txt'"
check "the exporter logged no error about the queries" bash -c "! grep -qi 'error' '$base/exporter.log'"

# the sample Grafana dashboard: JSON, and every series it plots exists --
# in this /metrics (the market's) or among those the agent writes (metrics.c)
python3 - "$here/grafana-dashboard.json" "$base/metrics.txt" "$main/agent/metrics.c" >"$base/dashboard.out" 2>&1 <<'PY'
import json, re, sys
dash = json.load(open(sys.argv[1]))
have = set(re.findall(r'^(lagbid_[a-z_]+)', open(sys.argv[2]).read(), re.M))
agent = set(re.findall(r'(lagbid_agent_[a-z_]+)', open(sys.argv[3]).read()))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
used = set(m for e in exprs for m in re.findall(r'lagbid_[a-z_]+', e))
missing = sorted(m for m in used if m not in have and m not in agent
                 and not (m.endswith("_bucket") and m[:-7] in agent))
print("plots", len(exprs), "expressions over", len(used), "series; missing:", missing)
sys.exit(1 if missing or not exprs else 0)
PY
check "grafana-dashboard.json plots only series that exist ($(cat "$base/dashboard.out"))" [ $? -eq 0 ]

echo "1..$n"
[ "$failed" -eq 0 ]

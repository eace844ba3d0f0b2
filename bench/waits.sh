#!/bin/bash
# Wait events of the lifecycle workload (docs/benchmarks.md): 16 clients for
# 10 s on cluster I that bench/versions.sh left in VS_DIR (start it first),
# pg_stat_activity sampled 40 times.
#   bench/waits.sh I PG_CONFIG
i=$1; cfg=$2; d=${VS_DIR:-/tmp/lagbid-versions.$(id -u)}/cluster.$i; port=$((${VS_PORT:-55900} + i)); B=$($cfg --bindir)
$B/psql -X -q -h $d -p $port -U postgres lagbid_bench -c "CREATE TABLE IF NOT EXISTS ws (wait text)" -c "TRUNCATE ws"
$B/pgbench -h $d -p $port -U postgres -n -M prepared -c 16 -j 2 -T 10 -D ntasks=2000 -D nproviders=10000 -f "$(cd "$(dirname "$0")" && pwd)/lifecycle.sql" lagbid_bench > "$d.waits.out" 2>&1 &
sleep 1
for k in $(seq 1 40); do
  $B/psql -X -q -h $d -p $port -U postgres lagbid_bench -c "INSERT INTO ws SELECT coalesce(wait_event_type || ':' || wait_event, 'running') FROM pg_stat_activity WHERE application_name = 'pgbench' AND state <> 'idle'" 
  sleep 0.2
done
wait
grep tps "$d.waits.out"
$B/psql -X -h $d -p $port -U postgres lagbid_bench -c "SELECT wait, count(*), round(100.0 * count(*) / sum(count(*)) over (), 1) pct FROM ws GROUP BY 1 ORDER BY 2 DESC LIMIT 8"

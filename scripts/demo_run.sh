#!/usr/bin/env bash
# The demo itself, on a staged tree with lagbid installed: start a throwaway
# cluster in STAGE/.cluster on PORT, run the market's acts (demo.sql,
# demo_work.sql, demo_trust.sql, then real agents: demo_agents.sh, whose
# agents then run a service space: demo_space.sh), stop
# the cluster (unless LAGBID_DEMO_KEEP is set).  Run as a non-root user;
# scripts/demo.sh (make demo) and the "demo" suite of make test call it.
# Usage: demo_run.sh STAGE PORT
set -euo pipefail
stage=$1
port=$2
cd "$stage"
rm -rf .cluster .cluster.initdb.log
bash scripts/cluster.sh start "$stage/.cluster" "$port" lagbid_demo
trap '[ -n "${LAGBID_DEMO_KEEP:-}" ] || bash scripts/cluster.sh stop "$stage/.cluster"' EXIT
for f in demo.sql demo_work.sql demo_trust.sql; do
	psql -X -q -h "$stage/.cluster" -p "$port" -U postgres -d lagbid_demo \
		-v ON_ERROR_STOP=1 -f "scripts/$f"
done
bash scripts/demo_agents.sh "$stage/.cluster" "$port" lagbid_demo
if [ -n "${LAGBID_DEMO_KEEP:-}" ]; then
	echo
	echo "cluster kept: psql -h $stage/.cluster -p $port -U postgres lagbid_demo"
fi

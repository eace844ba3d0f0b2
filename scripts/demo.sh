#!/usr/bin/env bash
# make demo: install what is missing, build and install lagbid, start a
# throwaway cluster (port 55432, under /tmp, pg_cron preloaded), run a small
# market end to end and print what happens (the last act with real
# lagbid-agent daemons: scripts/demo_agents.sh), then stop the cluster.
# LAGBID_DEMO_KEEP=1 leaves the cluster running and prints how to connect.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

bash "$here/scripts/deps.sh"
exec 9>${LAGBID_LOCK:-/tmp/lagbid-install.lock}
flock 9
build_and_install "$here"
flock -u 9

stage=${LAGBID_DEMO_DIR:-/tmp/lagbid-demo.$(id -u)}
port=${LAGBID_DEMO_PORT:-55432}
stage_tree "$here" "$stage"
as_runner bash -c "
	set -euo pipefail
	cd '$stage'
	rm -rf .cluster .cluster.initdb.log
	bash scripts/cluster.sh start '$stage/.cluster' $port lagbid_demo
	trap '[ -n \"\${LAGBID_DEMO_KEEP:-}\" ] || bash scripts/cluster.sh stop \"$stage/.cluster\"' EXIT
	psql -X -q -h '$stage/.cluster' -p $port -U postgres -d lagbid_demo \
		-v ON_ERROR_STOP=1 -f scripts/demo.sql
	psql -X -q -h '$stage/.cluster' -p $port -U postgres -d lagbid_demo \
		-v ON_ERROR_STOP=1 -f scripts/demo_work.sql
	psql -X -q -h '$stage/.cluster' -p $port -U postgres -d lagbid_demo \
		-v ON_ERROR_STOP=1 -f scripts/demo_trust.sql
	bash scripts/demo_agents.sh '$stage/.cluster' $port lagbid_demo
	if [ -n \"\${LAGBID_DEMO_KEEP:-}\" ]; then
		echo
		echo \"cluster kept: psql -h $stage/.cluster -p $port -U postgres lagbid_demo\"
	fi
"

#!/usr/bin/env bash
# make demo: install what is missing, build and install lagbid, start a
# throwaway cluster (port 55432, under /tmp, pg_cron preloaded), run a small
# market end to end and print what happens (the last act with real
# lagbid-agent daemons: scripts/demo_agents.sh, and a service space on
# them: scripts/demo_space.sh), then stop the cluster.
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
as_runner env LAGBID_DEMO_KEEP="${LAGBID_DEMO_KEEP:-}" bash "$stage/scripts/demo_run.sh" "$stage" $port

#!/usr/bin/env bash
# pgTAP suite: a throwaway cluster, CREATE EXTENSION pgtap + lagbid in a fresh
# database, then pg_prove over test/pgtap/*.sql.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
dir=$here/tmp_check_pgtap
port=${PGTAP_PORT:-55433}
rm -rf "$dir" "$dir.initdb.log"
trap 'bash "$here/scripts/cluster.sh" stop "$dir"' EXIT
bash "$here/scripts/cluster.sh" start "$dir" "$port" lagbid_pgtap
psql -h "$dir" -p "$port" -U postgres -d lagbid_pgtap -qX -v ON_ERROR_STOP=1 \
	-c "CREATE EXTENSION pgtap; CREATE EXTENSION lagbid CASCADE;" >/dev/null
pg_prove -v -h "$dir" -p "$port" -U postgres -d lagbid_pgtap "$here"/test/pgtap/*.sql

#!/usr/bin/env bash
# A throwaway local cluster for the demo, pgTAP and the benchmarks.
#   cluster.sh start DIR PORT DBNAME   initdb if needed, start, create DBNAME
#   cluster.sh stop DIR
# Runs as the current (non-root) user; pg_cron is preloaded and pointed at DBNAME.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

cmd=$1; dir=$2
case $cmd in
start)
	port=$3; db=$4
	if [ ! -s "$dir/PG_VERSION" ]; then
		mkdir -p "$dir"
		initdb -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$dir.initdb.log" 2>&1
		cat "$here/test/pg_test.conf" >>"$dir/postgresql.conf"
		cat >>"$dir/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
cron.database_name = '$db'
cron.host = '$dir'
fsync = off
CONF
	fi
	# fd 9 may be the install lock (bench/run.sh): a server kept running must
	# not hold it
	pg_ctl -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null 9>&-
	psql -h "$dir" -p "$port" -U postgres -d postgres -qAtc \
		"SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
		createdb -h "$dir" -p "$port" -U postgres "$db"
	;;
stop)
	[ -s "$dir/postmaster.pid" ] && pg_ctl -D "$dir" -m fast -w stop >/dev/null || true
	;;
*) echo "usage: cluster.sh start DIR PORT DB | stop DIR" >&2; exit 2 ;;
esac

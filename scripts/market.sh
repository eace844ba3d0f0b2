#!/usr/bin/env bash
# make market / make market-stop: your own lagbid market on this machine.
#
#   scripts/market.sh start    install what is missing, build and install
#                              lagbid, start (initdb the first time) a local
#                              PostgreSQL 15 with pg_cron ticking lagbid.tick()
#                              every minute, leave it running and print how to
#                              connect and where its data lives
#   scripts/market.sh stop     stop it (its data stays; start again later)
#   scripts/market.sh status   whether it runs, and how to connect
#
# Settings (environment):
#   LAGBID_MARKET_DIR      data directory (default: ~/.local/share/lagbid/market,
#                          or /var/lib/postgresql/lagbid-market when run as root:
#                          PostgreSQL then runs as the "postgres" user)
#   LAGBID_MARKET_PORT     port (default 55433; the demo uses 55432)
#   LAGBID_MARKET_DB       database (default lagbid)
#   LAGBID_MARKET_INSTALL  0: skip installing packages, building and installing
#
# Who may connect: the operator through the Unix socket in the data
# directory (mode 0700, so only its owner and root), without a password, as
# the superuser "postgres"; every other login (owners, agents, PostgREST's
# authenticator) over TCP on localhost only, with a password (scram-sha-256;
# keep it in ~/.pgpass).  The server has no TLS certificate: leave sslmode
# out of conninfos for this market (libpq's default "prefer" then connects
# without TLS); sslmode=require or verify-full fail with "server does not
# support SSL" here, and belong to a market reached over a network.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

cmd=${1:-start}
port=${LAGBID_MARKET_PORT:-55433}
db=${LAGBID_MARKET_DB:-lagbid}
if [ -n "${LAGBID_MARKET_DIR:-}" ]; then
	dir=$LAGBID_MARKET_DIR
elif [ "$(id -u)" -eq 0 ]; then
	dir=/var/lib/postgresql/lagbid-market
else
	dir=${XDG_DATA_HOME:-$HOME/.local/share}/lagbid/market
fi
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac

# what to print once the market runs (also written to DIR/conninfo)
describe() {
	cat <<TXT
lagbid market running: PostgreSQL $("$PG_CONFIG" --version | sed 's/^PostgreSQL //'), database "$db", pg_cron runs lagbid.tick() every minute
  data directory   $dir
  server log       $dir/server.log
  operator         psql "host=$dir port=$port dbname=$db user=postgres"
  owners, agents   host=localhost port=$port dbname=$db user=LOGIN
                   (a login with a password: put it in ~/.pgpass as
                    localhost:$port:$db:LOGIN:PASSWORD; no sslmode: this
                    local server has no TLS)
  stop             make market-stop   (the data stays; make market starts it again)
TXT
}

running() {
	as_runner pg_ctl -D "$dir" status >/dev/null 2>&1
}

case $cmd in
start)
	if [ "${LAGBID_MARKET_INSTALL:-1}" != 0 ]; then
		bash "$here/scripts/deps.sh"
		exec 9>"${LAGBID_LOCK:-/tmp/lagbid-install.lock}"
		flock 9
		build_and_install "$here"
		flock -u 9
		exec 9>&-
	fi
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p "$(dirname "$dir")"
		[ -d "$dir" ] || install -d -o postgres -g postgres -m 0700 "$dir"
	fi
	as_runner bash -s "$dir" "$port" "$db" <<'RUNNER'
set -euo pipefail
dir=$1 port=$2 db=$3
if [ ! -s "$dir/PG_VERSION" ]; then
	mkdir -p "$dir"
	chmod 0700 "$dir"
	log=$(mktemp)
	initdb -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
	mv "$log" "$dir/initdb.log"
	cat >>"$dir/postgresql.conf" <<CONF

# lagbid market (scripts/market.sh)
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'pg_cron'
cron.database_name = '$db'
cron.use_background_workers = on
max_worker_processes = 16
log_line_prefix = '%m [%p] %q%u@%d '
CONF
fi
if ! pg_ctl -D "$dir" status >/dev/null 2>&1; then
	# the port may be held for a moment by the previous server's last
	# connections (or be some client's ephemeral port): try three times
	for try in 1 2 3; do
		pg_ctl -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null && break
		if [ $try -lt 3 ] && tail -5 "$dir/server.log" | grep -q 'Address already in use'; then
			echo "port $port is in use; trying again in 2 s" >&2
			sleep 2
			continue
		fi
		tail -20 "$dir/server.log" >&2
		exit 1
	done
fi
psql() { command psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"; }
psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
	createdb -h "$dir" -p "$port" -U postgres "$db"
psql -d "$db" <<SQL >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS lagbid;
ALTER EXTENSION lagbid UPDATE;
SELECT lagbid.schedule_tick();
SQL
RUNNER
	describe >"$dir/conninfo"
	cat "$dir/conninfo"
	;;
stop)
	if [ -s "$dir/postmaster.pid" ] && running; then
		as_runner pg_ctl -D "$dir" -m fast -w stop >/dev/null
		echo "lagbid market stopped; its data stays in $dir (make market starts it again; rm -rf it to start afresh)"
	else
		echo "no lagbid market running in $dir"
	fi
	;;
status)
	if [ -s "$dir/PG_VERSION" ] && running; then
		describe
	else
		echo "no lagbid market running in $dir"
		exit 3
	fi
	;;
*) echo "usage: market.sh start|stop|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The command line without a market: --help, init's key and config when
# the market is unreachable, run --json lines (each one JSON object) while
# it retries with backoff, SIGTERM exits 0, SIGHUP with a broken config
# keeps the old one, status when the market is down.  Prints TAP.
# Usage: cli_test.sh PATH/TO/lagbid-agent
set -uo pipefail
agent=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d /tmp/lagbid-cli.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}

"$agent" --help > "$tmp/help" 2>&1
ok $([ $? -eq 0 ] && grep -q '^Usage:' "$tmp/help" && grep -q -- '--max-concurrent' "$tmp/help"; echo $?) "--help prints the usage and exits 0"
"$agent" > /dev/null 2>&1
ok $([ $? -ne 0 ]; echo $?) "no command is an error"
"$agent" run > "$tmp/nodir" 2>&1
ok $([ $? -ne 0 ] && grep -q 'needs --dir' "$tmp/nodir"; echo $?) "run without --dir is an error"

dir=$tmp/node
"$agent" init --dir "$dir" --conninfo "host=$tmp/nosocket port=1 connect_timeout=2 password=hunter2" \
	--region eu-test --multiaddr /ip4/127.0.0.1/tcp/4001 --max-concurrent 3 > "$tmp/init" 2>&1
ok $([ $? -ne 0 ] && grep -q 'could not connect to the market' "$tmp/init"; echo $?) "init fails when the market is unreachable"
ok $([ "$(stat -c %a "$dir/node.key")" = 600 ] && grep -q '^max_concurrent = 3$' "$dir/lagbid-agent.conf"; echo $?) \
	"... but the key (0600) and the config are kept for the next try"
ok $(grep -qE '^detected: [0-9]+ cores, [0-9]+ GB memory, [0-9]+ GB free disk' "$tmp/init"; echo $?) "init prints what it detected"
id1=$(sed -n 's/^node id //p' "$tmp/init")
"$agent" init --dir "$dir" > "$tmp/init2" 2>&1
ok $([ "$(sed -n 's/^node id //p' "$tmp/init2")" = "$id1" ] && grep -q 'kept' "$tmp/init2"; echo $?) "init again keeps the key and the node id"
ok $(! grep -q hunter2 "$tmp/init" "$tmp/init2"; echo $?) "the password in the conninfo is never printed"

"$agent" run --dir "$dir" --json 2> "$tmp/run.log" &
pid=$!
sleep 2.5
kill -HUP $pid
sleep 0.3
cp "$dir/lagbid-agent.conf" "$tmp/good.conf"
echo 'bogus line' >> "$dir/lagbid-agent.conf"
kill -HUP $pid
sleep 0.5
kill -TERM $pid
wait $pid
rc=$?
pid=
ok $([ $rc -eq 0 ]; echo $?) "SIGTERM stops run with exit status 0"
ok $(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert {"ts", "epoch", "pid", "level", "event", "message"} <= d.keys(), d
    n += 1
assert n >= 3
' "$tmp/run.log" 2>/dev/null; echo $?) "--json: every log line is one JSON object"
ok $(grep -q 'could not connect to the market.*retrying in' "$tmp/run.log"; echo $?) "it retries the connection with a backoff"
ok $(grep -q 'configuration not reloaded: line [0-9]*: expected' "$tmp/run.log"; echo $?) "SIGHUP with a broken config keeps the old one and says why"
ok $(! grep -q hunter2 "$tmp/run.log"; echo $?) "the password never reaches the log"
ok $(grep -q '"level": "LOG", "event": "stop"' "$tmp/run.log"; echo $?) "the stop is logged"
cp "$tmp/good.conf" "$dir/lagbid-agent.conf"

"$agent" status --dir "$dir" > "$tmp/status" 2>&1
ok $(grep -q "^node id $id1\$" "$tmp/status" && grep -q '^market unreachable' "$tmp/status" && grep -q '^agent not running' "$tmp/status" && grep -q '^declines in the last hour: 0' "$tmp/status"; echo $?) \
	"status works with the market down"

chmod 644 "$dir/node.key"
"$agent" run --dir "$dir" > "$tmp/badkey" 2>&1
ok $([ $? -ne 0 ] && grep -q '0600' "$tmp/badkey"; echo $?) "a key readable by others is refused"

echo "1..$n"
[ $fails -eq 0 ]

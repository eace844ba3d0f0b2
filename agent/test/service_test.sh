#!/usr/bin/env bash
# The service sandbox and the front proxy, without a database: an app run
# by "lagbid-agent serve" (service.c and proxy.c, as the daemon runs a
# lease) is reached through the proxy by Host and by path, answers probes
# with a signature that openssl verifies, cannot reach the host's loopback
# (a listener standing for the market's port, the front proxy itself,
# another lease's app), is restarted when killed, and leaves no process
# after a teardown, also when it ignores SIGTERM.  Prints TAP.
# Usage: service_test.sh PATH/TO/lagbid-agent
set -uo pipefail
agent=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d /tmp/lagbid-service.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0
fails=0

ok() {	# ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}

if ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
	echo "1..0 # SKIP bubblewrap cannot create namespaces here"
	exit 0
fi

# the app: tries the ports in $ATTACK from inside, writes what happened to
# attack.txt, then serves its directory on 127.0.0.1:$1
cat > "$tmp/app.py" <<'PY'
import http.server, os, signal, socket, sys
res = []
for spec in os.environ.get("ATTACK", "").split(","):
    if spec:
        try:
            socket.create_connection(("127.0.0.1", int(spec)), 2).close()
            res.append("%s connected" % spec)
        except OSError as e:
            res.append("%s refused errno %s" % (spec, e.errno))
open("attack.txt", "w").write("\n".join(res) + "\n")
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
printf '<h1>hello-lagbid-service</h1>\n' > "$tmp/index.html"
printf 'ok\n' > "$tmp/healthz"

# a listener on the host's loopback, standing for the market's port
mport=$((20000 + RANDOM % 20000))
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $mport)); s.listen(50); time.sleep(300)" &
pids+=($!)

# workload NAME PORT ATTACK [IGNORE_TERM]
workload() {
	local env="\"ATTACK\": \"$3\""
	[ -n "${4:-}" ] && env="$env, \"IGNORE_TERM\": \"1\""
	printf '{"command": ["python3", "app.py", "%s"], "env": {%s}, "inputs": [%s, %s, %s]}' "$2" "$env" \
		"{\"path\": \"app.py\", \"content_base64\": \"$(base64 -w0 "$tmp/app.py")\"}" \
		"{\"path\": \"index.html\", \"content_base64\": \"$(base64 -w0 "$tmp/index.html")\"}" \
		"{\"path\": \"healthz\", \"content_base64\": \"$(base64 -w0 "$tmp/healthz")\"}" > "$tmp/$1.json"
}

# serve NAME LEASE PORT: starts "lagbid-agent serve" in the background
serve() {
	mkdir -p "$tmp/$1"
	printf '[market]\nconninfo = dbname=none\nregion = test\n[service]\ngrace_s = 2\nproxy_max_body_bytes = 65536\n' > "$tmp/$1/lagbid-agent.conf"
	"$agent" serve --workload "$tmp/$1.json" --dir "$tmp/$1" --port "$3" --name "$2" \
		--health /healthz --domain svc.test > "$tmp/$1.out" 2> "$tmp/$1.log" &
	pids+=($!)
	eval "pid_$1=$!"
}

# wait_for FILE PATTERN [SECONDS]
wait_for() {
	local i
	for i in $(seq 1 $((${3:-20} * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# the app's pid: serve -> watcher -> bwrap -> shim -> app
app_pid() {
	local p=$1
	for _ in 1 2 3 4; do p=$(ps -o pid= --ppid "$p" | head -1 | tr -d ' '); [ -n "$p" ] || return 1; done
	echo "$p"
}

# lease B first: its app is the "other lease" that A tries to reach
workload b 8001 ""
serve b bbbbbbbbbbbbbbbb 8001
wait_for "$tmp/b.out" '^ready' 30
ok $? "the second service is ready"

# the attacks of A: the market's stand-in, the front proxy of B, B's app port
wait_for "$tmp/b.out" '^proxy' 1
bport=$(awk '/^proxy/{print $2}' "$tmp/b.out" | cut -d: -f2)
workload a 8000 "$mport,$bport,8001"
serve a aaaaaaaaaaaaaaaa 8000
wait_for "$tmp/a.out" '^ready' 30
ok $? "a service is ready once its health path answers 200"
port=$(awk '/^proxy/{print $2}' "$tmp/a.out" | cut -d: -f2)

curl -s -m 10 "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/" > "$tmp/page1"
ok $(grep -q hello-lagbid-service "$tmp/page1"; echo $?) "the page is served through the proxy by path /l/NAME/"
curl -s -m 10 -H "Host: aaaaaaaaaaaaaaaa.svc.test:$port" "http://127.0.0.1:$port/index.html" > "$tmp/page2"
ok $(grep -q hello-lagbid-service "$tmp/page2"; echo $?) "the page is served through the proxy by Host NAME.DOMAIN"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Host: cccccccccccccccc.svc.test" "http://127.0.0.1:$port/")
ok $([ "$code" = 404 ]; echo $?) "an unknown Host is 404 ($code)"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/l/bbbbbbbbbbbbbbbb/")
ok $([ "$code" = 404 ]; echo $?) "another proxy's service is unknown here: 404 ($code)"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
ok $([ "$code" = 404 ]; echo $?) "no service at the root: 404 ($code)"
head -c 100000 /dev/zero > "$tmp/big"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' --data-binary @"$tmp/big" "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/")
ok $([ "$code" = 413 ] || [ "$code" = 000 ]; echo $?) "a body over proxy_max_body_bytes is refused ($code)"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' x)" "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/")
ok $([ "$code" = 400 ] || [ "$code" = 431 ] || [ "$code" = 413 ] || [ "$code" = 000 ]; echo $?) "headers over 16 kB are refused ($code)"

# probes: the health path's status, signed with the node key
nonce=0123456789abcdef0123456789abcdef
curl -s -m 10 -D "$tmp/ph" -o /dev/null -H "X-Lagbid-Probe: $nonce" "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/anything"
sig=$(grep -i '^x-lagbid-probe-signature:' "$tmp/ph" | cut -d' ' -f2 | tr -d '\r')
printf 'lagbid-probe-v1\nlease:aaaaaaaaaaaaaaaa\nnonce:%s\nstatus:200\n' "$nonce" > "$tmp/pmsg"
printf '%s' "$sig" | base64 -d > "$tmp/psig"
openssl pkey -in "$tmp/a/node.key" -pubout -out "$tmp/a.pub" 2>/dev/null
openssl pkeyutl -verify -pubin -inkey "$tmp/a.pub" -rawin -in "$tmp/pmsg" -sigfile "$tmp/psig" >/dev/null 2>&1
ok $? "a probe is answered with the health status and a signature openssl verifies"
printf 'lagbid-probe-v1\nlease:aaaaaaaaaaaaaaaa\nnonce:%s\nstatus:500\n' "$nonce" > "$tmp/pmsg2"
! openssl pkeyutl -verify -pubin -inkey "$tmp/a.pub" -rawin -in "$tmp/pmsg2" -sigfile "$tmp/psig" >/dev/null 2>&1
ok $? "control: the same signature does not verify another status"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Lagbid-Probe: not-a-nonce" "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/")
ok $([ "$code" = 400 ]; echo $?) "a malformed probe nonce is refused: 400 ($code)"

# the prober's client ("lagbid-agent probe", the code run for my_probes())
"$agent" probe --url "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/" --nonce "$nonce" --allow-private > "$tmp/probe1" 2>&1
ok $(grep -q '^up status 200 ' "$tmp/probe1"; echo $?) "the prober GETs the endpoint with the nonce: $(cut -c1-60 "$tmp/probe1")"
sig=$(sed -n 's/.* signature \([^ ]*\).*/\1/p' "$tmp/probe1")
printf '%s' "$sig" | base64 -d > "$tmp/psig2"
openssl pkeyutl -verify -pubin -inkey "$tmp/a.pub" -rawin -in "$tmp/pmsg" -sigfile "$tmp/psig2" >/dev/null 2>&1
ok $? "the signature the prober received verifies against the provider's key"
"$agent" probe --url "http://aaaaaaaaaaaaaaaa.localhost:$port/" --nonce "$nonce" > "$tmp/probe2" 2>&1
ok $(grep -q '^down status 0 .*non-public address' "$tmp/probe2"; echo $?) \
	"without probe_allow_private a probe to loopback is refused after resolution: $(sed 's/.*why: //' "$tmp/probe2")"
"$agent" probe --url "http://[::ffff:127.0.0.1]:$port/l/aaaaaaaaaaaaaaaa/" --nonce "$nonce" > "$tmp/probe3" 2>&1
ok $(grep -q '^down status 0 .*non-public address' "$tmp/probe3"; echo $?) "... also as an IPv4-mapped IPv6 address"
"$agent" probe --url "file:///etc/passwd" --nonce "$nonce" > "$tmp/probe4" 2>&1
ok $(grep -q '^down status 0 refused: not an http' "$tmp/probe4"; echo $?) "a probe URL that is not http(s) is refused without a request"
# a target that redirects to the market's stand-in: not followed
rport=$((20000 + RANDOM % 20000))
python3 -c "
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(302); self.send_header('Location', 'http://127.0.0.1:$mport/'); self.send_header('Content-Length', '0'); self.end_headers()
socketserver.TCPServer(('127.0.0.1', $rport), H).serve_forever()" &
pids+=($!)
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.1; done
"$agent" probe --url "http://127.0.0.1:$rport/" --nonce "$nonce" --allow-private > "$tmp/probe5" 2>&1
ok $(grep -q "^down status 302 " "$tmp/probe5"; echo $?) "a redirect is not followed: $(cat "$tmp/probe5")"

# the attacks, as the app saw them
curl -s -m 10 "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/attack.txt" > "$tmp/attack"
python3 -c "import socket; socket.create_connection(('127.0.0.1', $mport), 2)" 2>/dev/null
ok $? "control: the market's stand-in on 127.0.0.1:$mport is reachable from the host"
ok $(grep -q "^$mport refused" "$tmp/attack"; echo $?) "the app cannot reach the host's 127.0.0.1:$mport: $(grep "^$mport" "$tmp/attack")"
ok $(grep -q "^$bport refused" "$tmp/attack"; echo $?) "the app cannot reach the front proxy (another lease's way in): $(grep "^$bport" "$tmp/attack")"
ok $(grep -q "^8001 refused" "$tmp/attack"; echo $?) "the app cannot reach another lease's app port: $(grep "^8001" "$tmp/attack")"

# kill the app: a fresh sandbox after the backoff
app=$(app_pid "$pid_a")
ok $([ -n "$app" ] && grep -q app.py /proc/$app/cmdline; echo $?) "the app runs as the sandbox's pid 1's child (pid ${app:-none})"
kill -9 "$app"
wait_for "$tmp/a.log" 'start 2)' 20
ok $? "a killed app is started again"
for i in $(seq 1 100); do
	curl -s -m 5 "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/" 2>/dev/null | grep -q hello-lagbid-service && break
	sleep 0.2
done
ok $(curl -s -m 5 "http://127.0.0.1:$port/l/aaaaaaaaaaaaaaaa/" | grep -q hello-lagbid-service; echo $?) "the page answers again after the restart"

# teardown: SIGTERM, then no process of the sandbox
app=$(app_pid "$pid_a")
kill -TERM "$pid_a"
wait_for "$tmp/a.out" '^torn down' 20
ok $(grep -q '^torn down: 0 process(es) left' "$tmp/a.out"; echo $?) "teardown: $(grep '^torn down' "$tmp/a.out")"
ok $([ -n "$app" ] && ! kill -0 "$app" 2>/dev/null; echo $?) "the app's process ($app) is gone"

# an app that ignores SIGTERM: SIGKILL of the sandbox after the grace
workload c 8002 "" ignore
serve c cccccccccccccccc 8002
wait_for "$tmp/c.out" '^ready' 30
app=$(app_pid "$pid_c")
t0=$(date +%s.%N)
kill -TERM "$pid_c"
wait_for "$tmp/c.out" '^torn down' 20
took=$(echo "$(date +%s.%N) - $t0" | bc)
ok $(grep -q '^torn down: 0 process(es) left' "$tmp/c.out" && grep -q 'grace over, SIGKILL' "$tmp/c.log"; echo $?) \
	"an app that ignores SIGTERM is killed after the grace: $(grep '^torn down' "$tmp/c.out")"
ok $([ -n "$app" ] && ! kill -0 "$app" 2>/dev/null; echo $?) "its process ($app) is gone"

kill -TERM "$pid_b"
wait_for "$tmp/b.out" '^torn down' 20
ok $(grep -q '^torn down: 0 process(es) left' "$tmp/b.out"; echo $?) "the second service is torn down too"

echo "1..$n"
exit $((fails > 0))

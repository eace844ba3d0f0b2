#!/usr/bin/env bash
# The sandbox holds, without a database: workloads run through
# "lagbid-agent try" (the same code path as a won job) that try the
# network, write outside their directory, fork without bound, eat memory,
# run past their timeout or lie about their inputs are contained and fail
# with a reason.  Prints TAP.  Usage: sandbox_test.sh PATH/TO/lagbid-agent
set -uo pipefail
agent=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d /tmp/lagbid-sandbox.XXXXXX)
trap 'kill $listener 2>/dev/null; rm -rf "$tmp"' EXIT
listener=
n=0
fails=0

ok() {	# ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}

# run NAME JSON [options]: the outcome in $tmp/NAME.out, elapsed seconds in $elapsed
run() {
	local name=$1 json=$2; shift 2
	printf '%s' "$json" > "$tmp/$name.json"
	local t0=$(date +%s.%N)
	"$agent" try --workload "$tmp/$name.json" "$@" > "$tmp/$name.out" 2>&1
	rc=$?
	elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
}

if ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
	echo "1..0 # SKIP bubblewrap cannot create namespaces here"
	exit 0
fi

run hello '{"command": ["sh", "-c", "echo hello-lagbid"]}'
ok $([ $rc -eq 0 ] && grep -qx hello-lagbid "$tmp/hello.out"; echo $?) "a workload runs and its stdout is the output"

b64=$(printf 'input-one\n' | base64 -w0)
printf 'file-input\n' > "$tmp/data.txt"
sha=$(sha256sum "$tmp/data.txt" | cut -d' ' -f1)
run inputs "{\"command\": [\"sh\", \"-c\", \"cat in/one.txt data/two.txt\"], \"inputs\": [{\"path\": \"in/one.txt\", \"content_base64\": \"$b64\"}, {\"path\": \"data/two.txt\", \"uri\": \"file://$tmp/data.txt\", \"sha256\": \"$sha\"}]}"
ok $([ $rc -eq 0 ] && grep -qx input-one "$tmp/inputs.out" && grep -qx file-input "$tmp/inputs.out"; echo $?) \
	"inputs are materialized: content_base64 decoded, file URI copied after its sha256 check"

run badhash "{\"command\": [\"true\"], \"inputs\": [{\"path\": \"x\", \"uri\": \"file://$tmp/data.txt\", \"sha256\": \"$(printf '0%.0s' {1..64})\"}]}"
ok $([ $rc -ne 0 ] && grep -q 'failed: input hash mismatch for "x"' "$tmp/badhash.out"; echo $?) "an input whose sha256 does not match fails the job: $(head -1 "$tmp/badhash.out")"

run http '{"command": ["true"], "inputs": [{"path": "x", "uri": "https://example.com/x", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}'
ok $([ $rc -ne 0 ] && grep -q 'http(s) inputs are not supported' "$tmp/http.out"; echo $?) "an http(s) input fails with a reason: $(head -1 "$tmp/http.out")"

run status '{"command": ["sh", "-c", "echo oops >&2; exit 3"]}'
ok $([ $rc -ne 0 ] && grep -q 'failed: exit status 3: oops' "$tmp/status.out"; echo $?) "a non-zero exit fails with the status and stderr's last line: $(head -1 "$tmp/status.out")"

run missing '{"command": ["does-not-exist-anywhere"]}'
ok $([ $rc -ne 0 ] && grep -q 'exit status 127' "$tmp/missing.out"; echo $?) "a missing command fails with exit status 127"

# the network: a listener on the host's loopback is unreachable from inside
port=$((20000 + RANDOM % 20000))
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(5); time.sleep(60)" &
listener=$!
sleep 0.5
python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 2)" 2>/dev/null
ok $? "control: the host listener on port $port is reachable outside the sandbox"
run net "{\"command\": [\"python3\", \"-c\", \"import socket; socket.create_connection(('127.0.0.1', $port), 2); print('connected')\"]}"
ok $([ $rc -ne 0 ] && ! grep -q connected "$tmp/net.out"; echo $?) "no network inside: $(head -1 "$tmp/net.out")"
run dns '{"command": ["python3", "-c", "import socket; socket.create_connection((\"1.1.1.1\", 53), 2); print(\"connected\")"]}'
ok $([ $rc -ne 0 ] && ! grep -q connected "$tmp/dns.out"; echo $?) "no route out: $(head -1 "$tmp/dns.out")"

# writes outside the work directory
mkdir -p "$tmp/host"
run outside "{\"command\": [\"sh\", \"-c\", \"echo x > $tmp/host/pwned; echo y > ../escape; echo z > /usr/evil; echo w > /etc/evil; echo ok > inside; cat inside\"]}"
ok $([ ! -e "$tmp/host/pwned" ] && [ ! -e /usr/evil ] && [ ! -e /etc/evil ] && grep -qx ok "$tmp/outside.out"; echo $?) \
	"writes outside the work directory fail (host path, .., /usr, /etc) while the work directory is writable"

ln -s /etc/passwd "$tmp/passwd-link"
run link '{"command": ["sh", "-c", "ln -s /etc/passwd result.txt"], "output": "result.txt"}'
ok $([ $rc -ne 0 ] && grep -q 'output "result.txt" missing' "$tmp/link.out"; echo $?) "an output that is a symlink out of the work directory is refused"

run outfile '{"command": ["sh", "-c", "mkdir -p out && echo file-result > out/r.txt"], "output": "out/r.txt"}'
ok $([ $rc -eq 0 ] && grep -qx file-result "$tmp/outfile.out"; echo $?) "an output file is the result"

run nooutput '{"command": ["true"], "output": "out/r.txt"}'
ok $([ $rc -ne 0 ] && grep -q 'output "out/r.txt" missing' "$tmp/nooutput.out"; echo $?) "a missing output file fails the job"

# processes: a bounded number, and a fork bomb dies with its sandbox
if [ "$(id -u)" -eq 0 ]; then
	# the kernel lets root past RLIMIT_NPROC: the agent warns, the unit runs it unprivileged
	n=$((n + 1)); echo "ok $n - RLIMIT_NPROC holds # SKIP root is not bound by RLIMIT_NPROC"
else
	run nproc '{"command": ["sh", "-c", "for i in $(seq 64); do sleep 5 & done"]}' --max-processes 16
	ok $([ $rc -ne 0 ] && grep -qi 'fork' "$tmp/nproc.out"; echo $?) "RLIMIT_NPROC holds: $(head -1 "$tmp/nproc.out")"
fi
marker=lagbid-bomb-$$
run bomb "{\"command\": [\"sh\", \"-c\", \"f(){ f | f & }; f; sleep 100\", \"$marker\"], \"timeout_s\": 3}" --max-processes 64
ok $([ $rc -ne 0 ] && grep -q 'failed:' "$tmp/bomb.out" && [ "$(echo "$elapsed < 15" | bc)" -eq 1 ]; echo $?) "a fork bomb is contained and fails ($(head -1 "$tmp/bomb.out"), ${elapsed%.*} s)"
sleep 0.5
ok $(! pgrep -f "$marker" >/dev/null; echo $?) "nothing of the fork bomb outlives its sandbox"

run sleep '{"command": ["sh", "-c", "sleep 100 & sleep 100"], "timeout_s": 2}'
ok $([ $rc -ne 0 ] && grep -q 'failed: timeout: killed after 2 s' "$tmp/sleep.out" && [ "$(echo "$elapsed < 8" | bc)" -eq 1 ]; echo $?) \
	"a workload past its timeout is killed (${elapsed%.*} s)"
ok $(! pgrep -f "sleep 100 & sleep 100" >/dev/null; echo $?) "nothing of a timed-out workload is left running"

run memory '{"command": ["python3", "-c", "b = bytearray(3 * 1024 * 1024 * 1024); print(len(b))"]}' --memory-gb 1
ok $([ $rc -ne 0 ] && grep -q 'failed:' "$tmp/memory.out"; echo $?) "RLIMIT_AS holds: 3 GB in a 1 GB sandbox fails ($(head -1 "$tmp/memory.out"))"

mkdir -p "$tmp/cfgdir"
printf '[market]\nconninfo = dbname=none\nregion = test\n[jobs]\nmax_output_bytes = 1048576\n' > "$tmp/cfgdir/lagbid-agent.conf"
run bigout '{"command": ["sh", "-c", "head -c 3000000 /dev/zero"]}' --dir "$tmp/cfgdir"
ok $([ $rc -ne 0 ] && grep -q 'file size limit' "$tmp/bigout.out"; echo $?) "RLIMIT_FSIZE caps the output: $(head -1 "$tmp/bigout.out")"

mkdir -p "$tmp/agentdir"
printf 'secret-key\n' > "$tmp/agentdir/node.key"
keysha=$(sha256sum "$tmp/agentdir/node.key" | cut -d' ' -f1)
run keyleak "{\"command\": [\"cat\", \"k\"], \"inputs\": [{\"path\": \"k\", \"uri\": \"file://$tmp/agentdir/node.key\", \"sha256\": \"$keysha\"}]}" --dir "$tmp/agentdir"
ok $([ $rc -ne 0 ] && grep -q "inside the agent's directory are refused" "$tmp/keyleak.out" && ! grep -q secret-key "$tmp/keyleak.out"; echo $?) \
	"a file URI into the agent's own directory (its key) is refused"

run env '{"command": ["sh", "-c", "echo \"$GREETING\" \"${PGPASSWORD:-none}\" \"$HOME\""], "env": {"GREETING": "hi"}}'
ok $([ $rc -eq 0 ] && grep -qx 'hi none /work' "$tmp/env.out"; echo $?) "the workload's env is set and the agent's is not inherited"

run malformed '{"command": ["a"], "inputs": [{"path": "../../etc/passwd", "content_base64": ""}]}'
ok $([ $rc -ne 0 ] && grep -q 'invalid workload' "$tmp/malformed.out"; echo $?) "a hostile input path is refused before anything runs"

echo "1..$n"
[ $fails -eq 0 ]

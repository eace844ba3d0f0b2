#!/usr/bin/env bash
# Makes the probe-signature test vectors of sql/leases.sql with an
# independent signer (openssl pkeyutl), following "Probe proof" of
# docs/0.4/spaces.md byte for byte, and the lease name (base32 of
# sha256("<market>:<job id>"), 16 characters) with coreutils.  Run once; its
# output was pasted into the test (new keys make new vectors).
#
#   bash test/vectors/probes.sh
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

b58() { # hex -> base58btc
	python3 -c 'import sys
a="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
b=bytes.fromhex(sys.argv[1]); n=int.from_bytes(b,"big"); s=""
while n: n,r=divmod(n,58); s=a[r]+s
print("1"*(len(b)-len(b.lstrip(b"\0")))+s)' "$1"
}
lease_name() { # MARKET JOB
	printf '%s:%s' "$1" "$2" | openssl dgst -sha256 -binary | base32 | tr 'A-Z' 'a-z' | cut -c1-16
}
openssl genpkey -algorithm ed25519 -out "$dir/k.pem" 2>/dev/null
pub=$(openssl pkey -in "$dir/k.pem" -pubout -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
echo "pub $pub"
echo "node $(b58 "002408011220$pub")"
sign() { # NAME NONCE STATUS: base64 signature
	printf 'lagbid-probe-v1\nlease:%s\nnonce:%s\nstatus:%s\n' "$1" "$2" "$3" > "$dir/m"
	openssl pkeyutl -sign -rawin -inkey "$dir/k.pem" -in "$dir/m" | base64 -w0
}
n1=$(lease_name regress-market 1)
echo "lease of job 1: $n1"
# the nonces the test sets: 000...01 to 000...10, status 200; 000...01 with 503
for i in $(seq 1 10); do
	nonce=$(printf '%032x' "$i")
	echo "sig $nonce 200 $(sign "$n1" "$nonce" 200)"
done
echo "sig $(printf '%032x' 1) 503 $(sign "$n1" "$(printf '%032x' 1)" 503)"

#!/usr/bin/env bash
# Makes the signed-registration test vectors of sql/registration.sql and
# test/pgtap/20_identity.sql with an independent signer (openssl pkeyutl),
# following the challenge format of src/registration.c byte for byte.  Run
# once; its output was pasted into the tests as hex literals (new keys make
# new vectors, so running it again changes every literal).
#
#   bash test/vectors/registration.sh
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
key() { # NAME: an ed25519 key; prints its peer id
	openssl genpkey -algorithm ed25519 -out "$dir/$1.pem" 2>/dev/null
	local pub
	pub=$(openssl pkey -in "$dir/$1.pem" -pubout -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
	b58 "0024080112 20$pub" | tr -d ' '
}
sign() { # NAME FILE: the raw signature in hex
	openssl pkeyutl -sign -rawin -inkey "$dir/$1.pem" -in "$2" | od -An -tx1 | tr -d ' \n'
}
# window of 2030-01-01 12:00:00 UTC (lagbid.clock in the tests)
W=$(( $(date -ud '2030-01-01 12:00:00' +%s) / 300 ))
challenge() { # FILE NODE WINDOW SEQ LOGIN MARKET ADDR...
	local f=$1 node=$2 w=$3 seq=$4 login=$5 market=$6; shift 6
	{ printf 'lagbid-registration-v1\nnode:%s\n' "$node"
	  for a in "$@"; do printf 'addr:%s\n' "$a"; done
	  printf 'window:%s\nseq:%s\nlogin:%s\nmarket:%s\n' "$w" "$seq" "$login" "$market"; } > "$f"
}

n1=$(key k1); n2=$(key k2); n4=$(key k4)
echo "window $W"
echo "n1 $n1"; echo "n2 $n2"; echo "n4 $n4"
a1=/ip4/203.0.113.7/tcp/4001; a2=/dns4/cp1.example/udp/4001/quic-v1; a3=/ip4/198.51.100.1/tcp/4001
challenge "$dir/c1" "$n1" "$W" 0 regress_signer regress-market "$a1" "$a2"
echo "c1 $(od -An -tx1 "$dir/c1" | tr -d ' \n')"
echo "s1 $(sign k1 "$dir/c1")"
challenge "$dir/c2" "$n1" "$W" 1 regress_signer regress-market "$a1" "$a2"
echo "s2 $(sign k1 "$dir/c2")"
challenge "$dir/c3" "$n1" $((W + 1)) 2 regress_signer regress-market "$a3"
echo "s3 $(sign k1 "$dir/c3")"
challenge "$dir/c4" "$n4" "$W" 0 pgtap_daemon pgtap-market /ip4/192.0.2.44/tcp/4001
echo "s4 $(sign k4 "$dir/c4")"

#!/bin/sh
# Mints a JWT (HS256) for PostgREST with the openssl command line only.
#
#   mint-jwt.sh ROLE SUB [SECONDS]
#
#   ROLE     lagbid_owner, lagbid_provider or lagbid_platform
#   SUB      the owner's name, or the provider's node id (12D3KooW...)
#   SECONDS  lifetime (default 3600): the token carries "exp"
#
# The secret is postgrest.conf's jwt-secret: from $LAGBID_JWT_SECRET, else
# from the file $LAGBID_JWT_SECRET_FILE, else read from the jwt-secret line
# of $LAGBID_POSTGREST_CONF (default: postgrest.conf beside this script).
# Note: openssl takes the HMAC key as an argument, so other local users may
# see it in the process list while this runs: mint on a trusted machine.
#
#   OWNER=$(contrib/postgrest/mint-jwt.sh lagbid_owner alice)
#   curl -H "Authorization: Bearer $OWNER" http://127.0.0.1:3000/rpc/my_tasks
set -eu

[ $# -ge 2 ] || { echo "usage: mint-jwt.sh ROLE SUB [SECONDS]" >&2; exit 2; }
role=$1 sub=$2 life=${3:-3600}
case $role in
lagbid_owner|lagbid_provider|lagbid_platform) ;;
*) echo "mint-jwt.sh: ROLE must be lagbid_owner, lagbid_provider or lagbid_platform" >&2; exit 2 ;;
esac
case $life in
''|*[!0-9]*) echo "mint-jwt.sh: SECONDS must be a whole number" >&2; exit 2 ;;
esac
# a sub is an owner name or a peer id: refuse what would need JSON escaping
case $sub in
*[\"\\]*|'') echo "mint-jwt.sh: SUB must be non-empty, without quotes or backslashes" >&2; exit 2 ;;
esac

secret=${LAGBID_JWT_SECRET:-}
if [ -z "$secret" ] && [ -n "${LAGBID_JWT_SECRET_FILE:-}" ]; then
	secret=$(cat "$LAGBID_JWT_SECRET_FILE")
fi
if [ -z "$secret" ]; then
	conf=${LAGBID_POSTGREST_CONF:-$(dirname "$0")/postgrest.conf}
	secret=$(sed -n 's/^jwt-secret *= *"\(.*\)"$/\1/p' "$conf")
	case $secret in
	@*) secret=$(cat "${secret#@}") ;;
	esac
fi
[ ${#secret} -ge 32 ] || { echo "mint-jwt.sh: the secret must have at least 32 characters" >&2; exit 1; }

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
exp=$(( $(date +%s) + life ))
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
payload=$(printf '{"role":"%s","sub":"%s","exp":%s}' "$role" "$sub" "$exp" | b64url)
hexkey=$(printf '%s' "$secret" | od -An -v -tx1 | tr -d ' \n')
sig=$(printf '%s.%s' "$header" "$payload" |
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | b64url)
printf '%s.%s.%s\n' "$header" "$payload" "$sig"

#!/usr/bin/env bash
# Fuzzes the live API with Schemathesis (PyPI) against its own OpenAPI document: an API process
# of its own (own database, own Redis key prefix, no workers), a user signed up here and its
# bearer token, bounded in time. Fails on any server error (5xx) or any response that does not
# conform to the documented schema. Nothing the fuzzer creates reaches off this machine: no
# worker runs (nothing is probed), the network policy blocks every address for test sends,
# names resolve through a closed local port, and HTTP(S)_PROXY points at a closed local port.
#
# Needs DATABASE_URL and REDIS_URL answering (scripts/lib/services.sh) and PG_BINDIR.
# FUZZ_MAX_EXAMPLES (default 50) and FUZZ_SECONDS (default 150) bound the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

st=$(pip_tool st "schemathesis>=4,<5")
cargo build --locked -q -p upcheck-api
bin="$PWD/target/debug/upcheck-api"

run=$(mktemp -d "${TMPDIR:-/tmp}/upcheck-fuzz.XXXXXX")
suffix=$(basename "$run" | tr -dc '[:alnum:]' | tr '[:upper:]' '[:lower:]')
db="upcheck_fuzz_$suffix"
server_url=$DATABASE_URL
psql="${PG_BINDIR:-$(pg_bindir)}/psql"
pid=""
# shellcheck disable=SC2317 # called by the trap
finish() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  "$psql" -q "$server_url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap finish EXIT
"$psql" -q "$server_url" -c "CREATE DATABASE $db" >/dev/null
fuzz_db=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$DATABASE_URL" "$db")

port=$(free_port)
closed=$(free_port) # nothing listens here
export DATABASE_URL="$fuzz_db" REDIS_KEY_PREFIX="upcheck-fuzz-$suffix:"
export PORT="$port" METRICS_PORT=0 BIND_ADDRESS=127.0.0.1 RUST_LOG=warn LOG_FORMAT=pretty
JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
SECRETS_KEY=$(python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')
export JWT_SECRET SECRETS_KEY
export PROBE_BLOCKED_NETWORKS="0.0.0.0/0,::/0" PROBE_DNS_SERVERS="127.0.0.1:$closed"
# One fuzzing user sends thousands of requests: the limits stay on (their middleware is fuzzed
# too, and 429 is documented on every /api/v1 route) but high enough not to end the run.
export RATE_LIMIT_API_PER_MINUTE=1000000 RATE_LIMIT_LOGIN_PER_MINUTE=1000000
export RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE=1000000 RATE_LIMIT_SIGNUP_PER_MINUTE=1000000
export RATE_LIMIT_HEARTBEAT_PER_MINUTE=1000000
unset SMTP_HOST ADMIN_EMAIL
"$bin" migrate >"$run/migrate.log" 2>&1
# The proxy variables are for the API alone (the fuzzer itself talks to it directly).
HTTP_PROXY="http://127.0.0.1:$closed" HTTPS_PROXY="http://127.0.0.1:$closed" NO_PROXY="" "$bin" >"$run/api.log" 2>&1 &
pid=$!
api="http://127.0.0.1:$port"
for i in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$api/readyz")" = "200" ] && break
  if [ "$i" -eq 120 ]; then say "the fuzzed API did not become ready"; tail -n 30 "$run/api.log" >&2; exit 1; fi
  sleep 0.5
done
creds='{"email":"fuzz@upcheck.local","password":"fuzzing-password"}'
curl -sf -o /dev/null -H 'content-type: application/json' -d "$creds" "$api/api/v1/auth/signup"
token=$(curl -sf -H 'content-type: application/json' -d "$creds" "$api/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

say "schemathesis against $api/api/v1/openapi.json (at most ${FUZZ_SECONDS:-150} s)"
status=0
timeout --signal=INT "${FUZZ_SECONDS:-150}" "$st" --no-color run "$api/api/v1/openapi.json" --url "$api" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${FUZZ_MAX_EXAMPLES:-50}" --workers 2 --request-timeout 10 \
  --generation-codec utf-8 | tee "$run/st.txt" || status=$?
# Stopped at the time bound (timeout's 124) with no failure found so far: a pass.
if [ "$status" -eq 124 ] && ! grep -q "^Failures:" "$run/st.txt"; then
  say "schemathesis stopped at the ${FUZZ_SECONDS:-150} s bound with no failure"
  status=0
fi
if grep -q "panicked" "$run/api.log"; then
  say "the fuzzed API panicked:"; grep -A 5 "panicked" "$run/api.log" >&2; status=1
fi
exit "$status"

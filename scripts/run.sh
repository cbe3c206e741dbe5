#!/usr/bin/env bash
# Builds and runs the whole stack (migrations, API, three workers) against local Postgres and
# Redis (throwaway ones under .upcheck/ when none answer), creates a demo user and a demo
# monitor, and prints how to log in and watch the checks arrive.
#
#   scripts/run.sh         start (or restart) the stack
#   scripts/run.sh stop    stop it, and the throwaway servers it started
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.upcheck"
mkdir -p "$state/logs" "$state/pids"
chmod 755 "$state"
# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh

stop_stack() {
  local f pid
  for f in "$state"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$f"
  done
}

if [ "${1:-}" = "stop" ]; then
  stop_stack
  stop_services "$state"
  say "stopped"
  exit 0
fi

stop_stack
# A throwaway server from an earlier run is reused when it still answers.
if [ -f "$state/env" ]; then
  # shellcheck disable=SC1091
  . "$state/env"
fi
ensure_services "$state"
printf 'export DATABASE_URL=%q REDIS_URL=%q\n' "$DATABASE_URL" "$REDIS_URL" > "$state/env"

# The stack keeps its data in its own database (`upcheck` unless DATABASE_URL names another),
# created when missing.
base=${DATABASE_URL%%\?*}
query=${DATABASE_URL#"$base"}
case "$base" in */postgres) base="${base%/postgres}/upcheck" ;; esac
DATABASE_URL="$base$query"
db=${base##*/}
maintenance="${base%/*}/postgres$query"
if ! psql "$maintenance" -qAtc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
  psql "$maintenance" -qc "create database \"$db\""
  say "created database $db"
fi

port=${PORT:-8080}
metrics_port=${METRICS_PORT:-9090}
# The JWT secret: JWT_SECRET when set (the API refuses placeholders); else a random one made on
# the first run and kept in .upcheck/jwt_secret (mode 0600), so tokens survive restarts. The API
# reads it from the file (JWT_SECRET_FILE), so it never sits in a process environment.
secret_file="$state/jwt_secret"
if [ -n "${JWT_SECRET:-}" ]; then
  secret_source="JWT_SECRET"
else
  if [ ! -s "$secret_file" ]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$secret_file.tmp" && echo >> "$secret_file.tmp")
    mv -f "$secret_file.tmp" "$secret_file"
    say "generated a random JWT secret in $secret_file"
  fi
  chmod 600 "$secret_file"
  export JWT_SECRET_FILE="$secret_file"
  secret_source=$secret_file
fi
# The key channel configs and monitor headers are encrypted with: SECRETS_KEY when set; else 32
# random bytes (base64) made on the first run and kept in .upcheck/secrets_key (mode 0600), read
# by the API and the workers through SECRETS_KEY_FILE. Losing it loses the stored secrets.
key_file="$state/secrets_key"
if [ -n "${SECRETS_KEY:-}" ]; then
  key_source="SECRETS_KEY"
else
  if [ ! -s "$key_file" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 > "$key_file.tmp")
    mv -f "$key_file.tmp" "$key_file"
    say "generated a random secrets key in $key_file"
  fi
  chmod 600 "$key_file"
  export SECRETS_KEY_FILE="$key_file"
  key_source=$key_file
fi
# Loopback unless told otherwise, as in compose: BIND_ADDRESS=0.0.0.0 exposes the API (and the
# workers' health ports); /metrics stays on METRICS_BIND_ADDRESS (loopback by default).
export BIND_ADDRESS="${BIND_ADDRESS:-127.0.0.1}" METRICS_PORT="$metrics_port"
export PORT="$port" REGION="${REGION:-local}" LOG_FORMAT="${LOG_FORMAT:-pretty}" RUST_LOG="${RUST_LOG:-info}"
# As the image does: without it mimalloc commits its first arena up front (BENCHMARKS.md, "Profile and fixes").
export MIMALLOC_ARENA_EAGER_COMMIT="${MIMALLOC_ARENA_EAGER_COMMIT:-0}"
say "building (release; the first build takes a few minutes)"
cargo build --release --locked --bins -p upcheck-api -p upcheck-worker-monitoring \
  -p upcheck-worker-status-change -p upcheck-worker-notification
bin="$root/target/release"
"$bin/upcheck-api" migrate

start() {
  local name=$1; shift
  env "$@" "$bin/$name" >"$state/logs/$name.log" 2>&1 &
  echo $! > "$state/pids/$name.pid"
}
start upcheck-api
start upcheck-worker-monitoring HEALTH_PORT=8081
start upcheck-worker-status-change HEALTH_PORT=8082
start upcheck-worker-notification HEALTH_PORT=8083

api="http://127.0.0.1:$port"
for i in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$api/readyz")" = "200" ] && break
  if [ "$i" -eq 120 ]; then
    say "the API did not become ready; its log:"
    tail -n 30 "$state/logs/upcheck-api.log" >&2
    exit 1
  fi
  sleep 0.5
done

email=demo@upcheck.local
password=upcheck-demo-password
creds=$(printf '{"email":"%s","password":"%s"}' "$email" "$password")
curl -s -o /dev/null -H 'content-type: application/json' -d "$creds" "$api/api/v1/auth/signup"
token=$(curl -sf -H 'content-type: application/json' -d "$creds" "$api/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
monitor=$(curl -sf -H "authorization: Bearer $token" "$api/api/v1/monitors" |
  python3 -c 'import json,sys; i=json.load(sys.stdin)["items"]; print(i[0]["id"] if i else "")')
if [ -z "$monitor" ]; then
  monitor=$(curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"Upcheck API health\",\"url\":\"$api/healthz\",\"interval_seconds\":10,\"timeout_ms\":2000}" \
    "$api/api/v1/monitors" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
fi

cat <<MSG

Upcheck is running.
  API          $api   (OpenAPI: $api/api/v1/openapi.json)
  Metrics      http://127.0.0.1:$metrics_port/metrics   (the API's; not on $port)
  Workers      health on 127.0.0.1:8081, :8082, :8083 (/healthz, /readyz, /metrics)
  JWT secret   $secret_source
  Secrets key  $key_source   (encrypts channel secrets and monitor headers; keep it)
  Demo user    $email / $password
  Demo monitor $monitor  (probes $api/healthz every 10 s)
  Logs         $state/logs/
  Stop         scripts/run.sh stop

Watch the checks arrive:
  TOKEN=\$(curl -s -H 'content-type: application/json' -d '$creds' $api/api/v1/auth/login | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "authorization: Bearer \$TOKEN" $api/api/v1/monitors/$monitor/checks
MSG

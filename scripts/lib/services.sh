#!/usr/bin/env bash
# Finds Postgres and Redis at DATABASE_URL / REDIS_URL (defaults: the local servers) and, when
# none answers, starts throwaway ones from the local binaries, installing Debian's packages if
# the binaries are missing. Sourced by scripts/test.sh and scripts/run.sh.
#
#   ensure_services <state-dir>   exports DATABASE_URL and REDIS_URL; servers it starts keep
#                                 their data and pid files under <state-dir>
#   stop_services <state-dir>     stops only the servers ensure_services started there
#   ensure_server_binaries        installs the PostgreSQL and Redis servers if missing (the TLS
#                                 test starts its own) and exports PG_BINDIR

: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
: "${REDIS_URL:=redis://127.0.0.1:6379}"
export DATABASE_URL REDIS_URL

say() { printf 'upcheck: %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    say "installing Debian package(s): $*"
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
      sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    fi
  else
    say "please install $* (PostgreSQL 14+ server and Redis 7 server), then run this again"
    exit 1
  fi
}

pg_bindir() {
  local d
  d=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$d" ] && command -v pg_config >/dev/null 2>&1; then d=$(pg_config --bindir); fi
  printf '%s' "$d"
}

postgres_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -d "$DATABASE_URL" -t 2
  else
    psql "$DATABASE_URL" -qAtc 'select 1' >/dev/null 2>&1
  fi
}

redis_answers() {
  command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = "PONG" ]
}

# Runs a command as the postgres user when we are root (initdb and pg_ctl refuse root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local state=$1 bindir port dir
  bindir=$(pg_bindir)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    apt_install postgresql
    bindir=$(pg_bindir)
  fi
  port=$(free_port)
  dir="$state/pg"
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
  fi
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  printf '%s\n' "$bindir" > "$dir/started-by-upcheck"
  DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export DATABASE_URL
  say "started a throwaway PostgreSQL on 127.0.0.1:$port ($dir)"
}

start_redis() {
  local state=$1 port dir
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  port=$(free_port)
  dir="$state/redis"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/log" >/dev/null
  for _ in $(seq 1 50); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ] && break
    sleep 0.1
  done
  printf '%s\n' "$port" > "$dir/started-by-upcheck"
  REDIS_URL="redis://127.0.0.1:$port"
  export REDIS_URL
  say "started a throwaway Redis on 127.0.0.1:$port ($dir)"
}

ensure_server_binaries() {
  local bindir
  bindir=$(pg_bindir)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    apt_install postgresql
    bindir=$(pg_bindir)
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  # The Redis Cluster tests create their cluster with redis-cli (redis-tools, which
  # redis-server depends on).
  command -v redis-cli >/dev/null 2>&1 || apt_install redis-tools
  PG_BINDIR=$bindir
  export PG_BINDIR
}

ensure_services() {
  local state=$1
  mkdir -p "$state"
  if postgres_answers; then
    say "using PostgreSQL at ${DATABASE_URL%%\?*}"
  else
    start_postgres "$state"
  fi
  if redis_answers; then
    say "using Redis at ${REDIS_URL##*@}"
  else
    start_redis "$state"
  fi
}

stop_services() {
  local state=$1
  if [ -f "$state/pg/started-by-upcheck" ]; then
    as_pg "$(cat "$state/pg/started-by-upcheck")/pg_ctl" -D "$state/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -f "$state/pg/started-by-upcheck"
  fi
  if [ -f "$state/redis/started-by-upcheck" ]; then
    redis-cli -p "$(cat "$state/redis/started-by-upcheck")" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$state/redis/started-by-upcheck"
  fi
}

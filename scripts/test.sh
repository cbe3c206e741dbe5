#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, then the whole workspace's tests against real
# Postgres and Redis (throwaway servers when none answer at DATABASE_URL / REDIS_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh

state=$(mktemp -d "${TMPDIR:-/tmp}/upcheck-test.XXXXXX")
chmod 755 "$state"
cleanup() { stop_services "$state"; rm -rf "$state"; }
trap cleanup EXIT
ensure_services "$state"

# Static checks of the scripts and compose files, where the tools are installed.
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck -x scripts/*.sh scripts/lib/*.sh .ci/run
fi
if command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f docker-compose.yml config -q
  docker-compose -f docker-compose.external.yml config -q
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-tests=fail
else
  cargo test --workspace --locked
fi

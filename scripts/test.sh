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

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-tests=fail
else
  cargo test --workspace --locked
fi

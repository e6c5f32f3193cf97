#!/usr/bin/env bash
# Runs the whole test suite on this machine's Node and again on the current LTS (Node 24), the two
# lines docsync supports. Node 24 comes from the npm registry's `node@24` package (a binary with its
# headers), kept in a cache folder; better-sqlite3 is rebuilt against it and back afterwards.
# The last line printed is the sum over both runs: `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

LTS_MAJOR=24
# 24.18.1, not the newest 24.x: from 24.19.0 on, Node aborts in `node::ObjectWrap` destructors run
# after its Environment is gone (nodejs/node#65446), which better-sqlite3 12 hits at process exit.
# better-sqlite3 13 avoids it but needs Node >= 22; until Node 20 is dropped, test on 24.18.1.
LTS_VERSION=24.18.1
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

rebuild_sqlite() {
  npm rebuild better-sqlite3 --build-from-source "$@" >"$logs/rebuild.log" 2>&1 || { cat "$logs/rebuild.log"; return 1; }
}

if PATH="$lts_bin:$PATH" rebuild_sqlite --nodedir="$lts_headers"; then
  # Native modules built during the run (the package install test) use the same headers.
  PATH="$lts_bin:$PATH" npm_config_nodedir="$lts_headers" run_suite "$logs/second"
else
  echo "better-sqlite3 did not build for Node $LTS_MAJOR"
  echo "0 passed, 1 failed" >"$logs/second"
fi
# Leave node_modules working for the machine's own Node again.
rebuild_sqlite || echo "better-sqlite3 did not rebuild for $(node -v): run npm rebuild better-sqlite3"

read -r p1 _ f1 _ <"$logs/first"
read -r p2 _ f2 _ <"$logs/second"
echo "Node $(node -v): $(cat "$logs/first") · Node $LTS_MAJOR: $(cat "$logs/second")"
echo "$((p1 + p2)) passed, $((f1 + f2)) failed"
[[ $((f1 + f2)) == 0 ]]

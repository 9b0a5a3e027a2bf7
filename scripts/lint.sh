#!/usr/bin/env bash
# `make lint`: formatting and clippy, as `make test` runs them.
#   cargo fmt --all -- --check
#   cargo clippy --workspace --all-targets -- -D warnings
#   cargo clippy -p edge-worker --target wasm32-unknown-unknown --all-targets -- -D warnings
#     (the Worker's glue is wasm32 only; --all-targets also compiles the
#     edge's tests for wasm32, so a test there cannot rot uncompiled)
#   cargo check -p shared-types --all-targets, and for wasm32 (alone, without
#     the workspace's unified features)
#   file sizes: core routes and repositories at most 300 lines, models 150,
#     the edge's wasm32 glue (glue/, runtime/) 400, any other non-test file 500
# Stops at the first failure with a non-zero exit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=lint
cd "$ROOT"
# checked queries compile from the committed .sqlx/, not from a live database
export SQLX_OFFLINE=true

step() { # description cmd...
  local what="$1"
  shift
  log "$what: $*"
  "$@" || die "$what failed (command: $*)"
}

# The line limit of one source file (tests are exempt): the layers of core
# (routes and SQL 300, models 150, the rest 500) and the edge's wasm32 glue (400).
file_limit() {
  case "$1" in
    core-api/src/api/* | core-api/src/repositories/*) echo 300 ;;
    core-api/src/models/*) echo 150 ;;
    */glue/* | */glue.rs | */runtime/*) echo 400 ;;
    *) echo 500 ;;
  esac
}

# Lists the workspace's source files over their limit; fails when there is one.
file_sizes() {
  local f n limit over=0
  while IFS= read -r f; do
    case "$f" in */tests.rs | */tests/* | */target/* | */node_modules/*) continue ;; esac
    limit=$(file_limit "$f")
    n=$(wc -l <"$f")
    if [ "$n" -gt "$limit" ]; then
      log "$f: $n lines (at most $limit)"
      over=1
    fi
  done < <(find core-api edge-worker shared-types shared-auth -name '*.rs' -path '*/src/*' 2>/dev/null | sort)
  return "$over"
}

step "formatting" cargo fmt --all -- --check
step "file sizes" file_sizes
step "clippy (native)" cargo clippy --workspace --all-targets -- -D warnings
wasm_target_installed || die "the wasm32-unknown-unknown target is missing: run scripts/ensure-tools.sh --wasm-target"
step "clippy (edge, wasm32, with its tests)" cargo clippy -p edge-worker --target wasm32-unknown-unknown --all-targets -- -D warnings
# shared-types alone, as clients and the edge take it: the workspace's unified
# features must not hide one it lacks (a test used chrono's clock once)
step "shared-types alone (native, with its tests)" cargo check -p shared-types --all-targets
step "shared-types alone (wasm32)" cargo check -p shared-types --target wasm32-unknown-unknown

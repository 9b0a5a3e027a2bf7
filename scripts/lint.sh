#!/usr/bin/env bash
# `make lint`: formatting and clippy, as `make test` runs them.
#   cargo fmt --all -- --check
#   cargo clippy --workspace --all-targets -- -D warnings
#   cargo clippy -p edge-worker --target wasm32-unknown-unknown --all-targets -- -D warnings
#     (the Worker's glue is wasm32 only; --all-targets also compiles the
#     edge's tests for wasm32, so a test there cannot rot uncompiled)
#   the edge's file sizes: wasm32 glue (glue/, runtime/) at most 400 lines,
#     any other non-test file at most 500
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

# Lists the edge's files over their limit; fails when there is one.
edge_file_sizes() {
  local f n limit over=0
  while IFS= read -r f; do
    case "$f" in */tests.rs | */tests/*) continue ;; esac
    limit=500
    case "$f" in */glue/* | */glue.rs | */runtime/*) limit=400 ;; esac
    n=$(wc -l <"$f")
    if [ "$n" -gt "$limit" ]; then
      log "$f: $n lines (at most $limit)"
      over=1
    fi
  done < <(find edge-worker/src -name '*.rs' | sort)
  return "$over"
}

step "formatting" cargo fmt --all -- --check
step "edge file sizes" edge_file_sizes
step "clippy (native)" cargo clippy --workspace --all-targets -- -D warnings
wasm_target_installed || die "the wasm32-unknown-unknown target is missing: run scripts/ensure-tools.sh --wasm-target"
step "clippy (edge, wasm32, with its tests)" cargo clippy -p edge-worker --target wasm32-unknown-unknown --all-targets -- -D warnings

#!/usr/bin/env bash
# `make lint`: formatting and clippy, as `make test` runs them.
#   cargo fmt --all -- --check
#   cargo clippy --workspace --all-targets -- -D warnings
#   cargo clippy -p edge-worker --target wasm32-unknown-unknown --all-targets -- -D warnings
#     (the Worker's glue is wasm32 only; --all-targets also compiles the
#     edge's tests for wasm32, so a test there cannot rot uncompiled)
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

step "formatting" cargo fmt --all -- --check
step "clippy (native)" cargo clippy --workspace --all-targets -- -D warnings
wasm_target_installed || die "the wasm32-unknown-unknown target is missing: run scripts/ensure-tools.sh --wasm-target"
step "clippy (edge, wasm32, with its tests)" cargo clippy -p edge-worker --target wasm32-unknown-unknown --all-targets -- -D warnings

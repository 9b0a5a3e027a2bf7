#!/usr/bin/env bash
# The long profile of the property tests (not in CI, not in `make test`): each
# parser's properties run again and again with fresh random seeds and many
# cases, for a fixed time per target. A failure stops the script; proptest
# writes the shrunk case to the crate's proptest-regressions/ folder: commit
# it with the fix, so the case runs in every `cargo test` from then on.
#
# usage: scripts/fuzz-long.sh [SECONDS_PER_TARGET=300] [CASES_PER_RUN=20000]
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=fuzz-long
cd "$ROOT"
mkdir -p .dev

SECONDS_PER_TARGET="${1:-300}"
CASES="${2:-20000}"
export SQLX_OFFLINE=true PROPTEST_CASES="$CASES"

# target: cargo test arguments and the filter of its property tests
TARGETS=(
  "socketio-decoder|-p edge-worker --lib|socketio::tests::properties"
  "jwt-header-and-claims|-p shared-auth --test props|jwt_"
  "internal-signature|-p shared-auth --test props|internal_signature_"
  "webhook-header|-p shared-auth --test props|webhook_"
)

log "building the test binaries"
cargo test -q -p edge-worker --lib --no-run
cargo test -q -p shared-auth --test props --no-run

for target in "${TARGETS[@]}"; do
  IFS='|' read -r name args filter <<<"$target"
  deadline=$((SECONDS + SECONDS_PER_TARGET))
  runs=0
  while [ "$SECONDS" -lt "$deadline" ]; do
    # shellcheck disable=SC2086 # args are words
    cargo test -q $args -- "$filter" >/dev/null 2>"$ROOT/.dev/fuzz-$name.log" ||
      die "$name: a property failed (see .dev/fuzz-$name.log and proptest-regressions/)"
    runs=$((runs + 1))
  done
  log "$name: $runs runs of $CASES cases each, no failure"
done

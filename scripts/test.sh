#!/usr/bin/env bash
# `make test`: every check and test, failing fast with a clear message.
#   1. ensure tools (rustfmt, clippy, redis-server and the Postgres binaries
#      core's fault tests run privately, the wasm target, the worker and node
#      tools, chromium for the browser demo's test, the python-socketio client's
#      venv) and services (Postgres, Redis);
#   2. scripts/lint.sh: cargo fmt --check, source file sizes, clippy native
#      and wasm32 for the edge (its tests included: none can rot uncompiled);
#   3. scripts/sqlx-prepare.sh --check: core's .sqlx/ offline data matches its
#      queries (against a scratch database it creates, migrates and drops);
#   4. cargo test --workspace against real Postgres and Redis (core's
#      #[sqlx::test] creates a database per test from DATABASE_URL), with a
#      three-master Redis Cluster (scripts/redis-cluster.sh) for
#      core-api/tests/redis_cluster.rs (TEST_REDIS_CLUSTER_URL); core's fault
#      tests start their own servers (Redis, a Redis Cluster, Postgres and a
#      pg_basebackup streaming replica of it);
#   5. core's presence, rate-limit, membership-cache, profile-cache and webhook
#      tests again, with REDIS_URL set to that cluster;
#   6. tests/e2e/run.sh (stand-in, core and wrangler dev, driven by socket.io-client
#      and by the python-socketio client).
# Everything builds with SQLX_OFFLINE=true: checked queries compile from .sqlx/.
# .env is NOT read: tests use their own fixed local settings.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="test"
cd "$ROOT"
started=$SECONDS

export SQLX_OFFLINE=true
scripts/ensure-tools.sh --base --rust --fault-deps --sqlx --wasm-target --worker --node --browser --python
scripts/ensure-services.sh
use_local_node

scripts/lint.sh
scripts/sqlx-prepare.sh --check

export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
TEST_REDIS_CLUSTER_URL="$(scripts/redis-cluster.sh)" || die "the Redis Cluster did not start (scripts/redis-cluster.sh)"
export TEST_REDIS_CLUSTER_URL
log "cargo test --workspace (DATABASE_URL=${DATABASE_URL%%://*}://…@${DATABASE_URL##*@}, REDIS_URL=$REDIS_URL, TEST_REDIS_CLUSTER_URL=$TEST_REDIS_CLUSTER_URL)"
cargo test --workspace || die "cargo test --workspace failed"

cluster_tests=(--test presence --test notify_sets --test rate_limits --test membership_cache --test tms_cache --test webhooks)
log "the Redis tests again on the Redis Cluster: cargo test -p core-api ${cluster_tests[*]} (REDIS_URL=$TEST_REDIS_CLUSTER_URL)"
REDIS_URL="$TEST_REDIS_CLUSTER_URL" cargo test -p core-api "${cluster_tests[@]}" \
  || die "core's Redis tests failed on the Redis Cluster (REDIS_URL=$TEST_REDIS_CLUSTER_URL)"

log "end-to-end: tests/e2e/run.sh"
bash tests/e2e/run.sh || die "end-to-end tests failed (tests/e2e/run.sh)"
log "all checks and tests passed in $((SECONDS - started))s"

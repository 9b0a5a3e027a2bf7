#!/usr/bin/env bash
# End-to-end tests across processes: the TMS and OSS stand-ins, core-api and the edge
# in real workerd (`wrangler dev`, prebuilt: no rebuild loop), driven by the
# official socket.io-client. Each run gets its own database and Redis prefix
# and free ports, and stops everything it started.
#
# usage: tests/e2e/run.sh [node --test args...] [FILE.test.mjs...] [python/FILE_test.py...]   (logs stay in .dev/e2e)
#   with test files named, only those run; otherwise every tests/e2e/*.test.mjs, then
#   every tests/e2e/python/*_test.py (the python-socketio client, scripts/ensure-tools.sh --python)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
LOG_TAG=e2e
cd "$ROOT"
use_local_node

RUN_DIR="$ROOT/.dev/e2e"
# where cargo put the binaries (CARGO_TARGET_DIR may move them out of the repo)
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
TMS_PORT=$(free_port) CORE_PORT=$(free_port) EDGE_PORT=$(free_port) OSS_PORT=$(free_port)
DB="teamchat_e2e_$$"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
export JWT_SECRET="e2e-jwt-secret-0123456789abcdef0123456789"
export INTERNAL_API_SECRET="e2e-internal-secret-0123456789abcdef01234"
export TMS_API_KEY="e2e-tms-api-key"
export TMS_WEBHOOK_SECRET="e2e-tms-webhook-secret-0123456789abcdef012"
# iss and aud as production requires them: core and edge check, the stand-in issues them
export JWT_ISSUER="https://tms.e2e.test" JWT_AUDIENCE="teamchat-e2e"
export TMS_ISSUER="$JWT_ISSUER" TMS_AUDIENCE="$JWT_AUDIENCE"
# the one browser origin the edge allows (tests/e2e/compat.test.mjs)
export ALLOWED_ORIGIN="https://app.e2e.test"
# file storage: the OSS stand-in (path-style URLs); core and the stand-in read the same OSS_*
export OSS_ACCESS_KEY_ID="e2e-oss-key" OSS_ACCESS_KEY_SECRET="e2e-oss-secret-0123456789abcdef"
export OSS_BUCKET_NAME="teamchat-e2e" OSS_REGION="e2e-local" OSS_URL_STYLE=path
export OSS_ENDPOINT="http://127.0.0.1:$OSS_PORT"
# small on purpose: a handful of sockets spreads over several gateways
export GATEWAY_MAX_SOCKETS=5 PRESENCE_GRACE_MS=1500
# below the ping interval on purpose: polling.test.mjs sees holds end with a noop
export POLLING_HOLD_MS=1500
# short on purpose: recovery.test.mjs waits for the window to pass
export MAX_DISCONNECTION_DURATION_MS=4000
# short on purpose: the missed-call test waits for the ring to time out
export CALL_RING_TIMEOUT_SECS=3 CALL_SWEEP_INTERVAL_MS=200

cleanup() {
  local rc=$?
  [ "$rc" -ne 0 ] && show_stack_logs
  stop_stack
  drop_db "$DB"
  exit "$rc"
}
trap cleanup EXIT INT TERM

log "building core-api, tms-standin and oss-standin (debug)"
cargo build -q -p core-api -p tms-standin -p oss-standin

# the Worker is rebuilt only when its sources are newer than the build
edge_is_stale && bash scripts/build-edge.sh
wrangler_config_without_build "$ROOT/.wrangler-local.toml"

log "checking the deployment bundle (wrangler deploy --dry-run)"
WRANGLER_SEND_METRICS=false XDG_CONFIG_HOME="$ROOT/.wrangler-home" \
  npx --no-install wrangler deploy --dry-run -c .wrangler-local.toml --outdir "$RUN_DIR/dist" >"$RUN_DIR/deploy-dry-run.log" 2>&1 ||
  die "wrangler deploy --dry-run failed (see $RUN_DIR/deploy-dry-run.log)"
for env in staging production; do
  WRANGLER_SEND_METRICS=false XDG_CONFIG_HOME="$ROOT/.wrangler-home" \
    npx --no-install wrangler deploy --dry-run -c .wrangler-local.toml --env "$env" --outdir "$RUN_DIR/dist-$env" >>"$RUN_DIR/deploy-dry-run.log" 2>&1 ||
    die "wrangler deploy --dry-run --env $env failed (see $RUN_DIR/deploy-dry-run.log)"
done

export E2E_DATABASE_URL
E2E_DATABASE_URL=$(scratch_db "$DB")

spawn tms-standin "$RUN_DIR/tms.log" env TMS_STANDIN_ADDR="127.0.0.1:$TMS_PORT" \
  TMS_WEBHOOK_URL="http://127.0.0.1:$EDGE_PORT/api/v1/webhooks/tms" "$BIN_DIR/tms-standin"
wait_http "http://127.0.0.1:$TMS_PORT/health" tms-standin "$SPAWNED_PID"

spawn oss-standin "$RUN_DIR/oss.log" env OSS_STANDIN_ADDR="127.0.0.1:$OSS_PORT" "$BIN_DIR/oss-standin"
wait_http "http://127.0.0.1:$OSS_PORT/health" oss-standin "$SPAWNED_PID"

spawn core-api "$RUN_DIR/core.log" env HOST=127.0.0.1 PORT="$CORE_PORT" DATABASE_URL="$E2E_DATABASE_URL" \
  REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}" \
  REDIS_KEY_PREFIX="e2e:$$:" TMS_API_URL="http://127.0.0.1:$TMS_PORT" PRESENCE_GRACE_MS="$PRESENCE_GRACE_MS" \
  CALL_RING_TIMEOUT_SECS="$CALL_RING_TIMEOUT_SECS" CALL_SWEEP_INTERVAL_MS="$CALL_SWEEP_INTERVAL_MS" \
  EDGE_FANOUT_URL="http://127.0.0.1:$EDGE_PORT/internal/v1/fanout" RUST_LOG="${RUST_LOG:-info}" \
  TMS_JWKS_URL="http://127.0.0.1:$TMS_PORT/.well-known/jwks.json" JWKS_MIN_REFRESH_SECS=1 \
  "$BIN_DIR/core-api"
CORE_PID=$SPAWNED_PID
wait_http "http://127.0.0.1:$CORE_PORT/health/ready" core-api "$CORE_PID"

spawn "wrangler dev" "$RUN_DIR/wrangler.log" env WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
  XDG_CONFIG_HOME="$ROOT/.wrangler-home" NO_COLOR=1 \
  node_modules/.bin/wrangler dev -c .wrangler-local.toml --local --ip 127.0.0.1 --port "$EDGE_PORT" \
  --show-interactive-dev-session=false --persist-to "$RUN_DIR/state" \
  --var "CORE_API_URL:http://127.0.0.1:$CORE_PORT" --var "JWT_SECRET:$JWT_SECRET" \
  --var "INTERNAL_API_SECRET:$INTERNAL_API_SECRET" --var "TMS_JWKS_URL:http://127.0.0.1:$TMS_PORT/.well-known/jwks.json" \
  --var PING_INTERVAL_MS:2000 --var PING_TIMEOUT_MS:2000 --var JWKS_MIN_REFRESH_SECS:1 \
  --var "GATEWAY_MAX_SOCKETS:$GATEWAY_MAX_SOCKETS" --var CORE_TIMEOUT_MS:3000 \
  --var "ALLOWED_ORIGINS:$ALLOWED_ORIGIN" --var "JWT_ISSUER:$JWT_ISSUER" --var "JWT_AUDIENCE:$JWT_AUDIENCE" \
  --var JWT_LEEWAY_SECS:1 --var TOKEN_REFRESH_GRACE_SECS:3 --var DENY_LIST_TTL_SECS:2 \
  --var "POLLING_HOLD_MS:$POLLING_HOLD_MS" --var "MAX_DISCONNECTION_DURATION_MS:$MAX_DISCONNECTION_DURATION_MS"
wait_http "http://127.0.0.1:$EDGE_PORT/health" "wrangler dev" "$SPAWNED_PID" 60
log "stack up: tms :$TMS_PORT, oss :$OSS_PORT, core :$CORE_PORT, edge :$EDGE_PORT"

export EDGE_URL="http://127.0.0.1:$EDGE_PORT" CORE_URL="http://127.0.0.1:$CORE_PORT" TMS_URL="http://127.0.0.1:$TMS_PORT"
# the fault test pauses core (SIGSTOP/SIGCONT) to play a hung core
export CORE_PID="$CORE_PID" CORE_TIMEOUT_MS=3000
export PING_INTERVAL_MS=2000 PING_TIMEOUT_MS=2000 POLLING_HOLD_MS
files=(tests/e2e/*.test.mjs)
python_tests=(tests/e2e/python/*_test.py)
node_args=()
for arg in "$@"; do
  case "$arg" in *.test.mjs | *_test.py) files=() python_tests=() ;; esac
done
for arg in "$@"; do
  case "$arg" in
    *_test.py) python_tests+=("$arg") ;;
    *) node_args+=("$arg") ;;
  esac
done
if [ ${#node_args[@]} -gt 0 ] || [ ${#files[@]} -gt 0 ]; then
  node --test --test-concurrency=1 "${node_args[@]}" "${files[@]}"
fi
# the official python-socketio client (scripts/ensure-tools.sh --python)
[ ${#python_tests[@]} -eq 0 ] || [ -x "$ROOT/.dev/python/bin/python" ] ||
  die "the python-socketio client is missing: run scripts/ensure-tools.sh --python"
for t in "${python_tests[@]}"; do
  log "python: $t"
  "$ROOT/.dev/python/bin/python" "$t" || die "$t failed"
done

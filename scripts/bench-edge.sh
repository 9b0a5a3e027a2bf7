#!/usr/bin/env bash
# The edge benchmark in one run: the same workloads on the reference npm
# `socket.io` server (in memory), on the edge under `wrangler dev`, and on the
# edge in `workerd serve` alone (no dev proxy, no Miniflare entry worker; the
# `miniflare` target runs it through Miniflare's API), with a release core.
# Writes BENCHMARKS.md and bench/latency.png; not part of `make test`.
#
# usage: scripts/bench-edge.sh
# env:   DURATION=15 WARMUP=3 (s, per message workload)  IDLE_SOCKETS=2000
#        IDLE_CYCLES=3 PING_INTERVAL_MS=10000
#        TARGETS="reference floor wrangler workerd" (also: miniflare)
#        WORKLOADS="idle room rooms10" (a subset is for trying a change; the
#        report then lacks the others)
#        BENCH_KEEP=1 keeps the logs in .dev/bench
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
LOG_TAG=bench-edge
cd "$ROOT"

DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
IDLE_SOCKETS=${IDLE_SOCKETS:-2000}
IDLE_CYCLES=${IDLE_CYCLES:-3}
PING_INTERVAL_MS=${PING_INTERVAL_MS:-10000}
PING_TIMEOUT_MS=${PING_TIMEOUT_MS:-20000}
TARGETS=${TARGETS:-reference floor wrangler workerd}
WORKLOADS=${WORKLOADS:-idle room rooms10}
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
RUN_DIR="$ROOT/.dev/bench"
RESULTS="$RUN_DIR/results"

# 2,000 client sockets and as many server sockets, in up to three processes
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bash scripts/ensure-tools.sh --base --worker --node
use_local_node
bash scripts/ensure-services.sh
have gnuplot || apt_install gnuplot-nox
have psql || apt_install postgresql-client

log "building core-api and tms-standin (release)"
cargo build -q --release -p core-api -p tms-standin
# the Worker is rebuilt only when its sources are newer than the build
edge_is_stale && bash scripts/build-edge.sh
wrangler_config_without_build "$ROOT/.wrangler-bench.toml"

rm -rf "$RUN_DIR" && mkdir -p "$RESULTS"
DB="teamchat_bench_edge_$$"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
JWT_SECRET="bench-jwt-secret-0123456789abcdef0123456789"
INTERNAL_API_SECRET="bench-internal-secret-0123456789abcdef012"
export TMS_API_KEY="bench-tms-api-key"
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do stop_group "$pid"; done
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    for f in "$RUN_DIR"/*.log; do [ -f "$f" ] && { warn "--- last lines of $f"; tail -n 20 "$f" >&2; }; done
  fi
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$RUN_DIR/state"
  exit "$rc"
}
trap cleanup EXIT INT TERM

psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
TMS_PORT=$(free_port)
TMS_STANDIN_ADDR="127.0.0.1:$TMS_PORT" JWT_SECRET="$JWT_SECRET" RUST_LOG=warn \
  setsid "$TARGET_DIR/release/tms-standin" >"$RUN_DIR/tms.log" 2>&1 </dev/null &
PIDS+=($!)
wait_http "http://127.0.0.1:$TMS_PORT/health" tms-standin "${PIDS[-1]}"
TMS_URL="http://127.0.0.1:$TMS_PORT"

CORE_PID=""
start_core() { # EDGE_PORT: a release core whose fan-out goes to that edge
  [ -n "$CORE_PID" ] && stop_group "$CORE_PID"
  CORE_PORT=$(free_port)
  HOST=127.0.0.1 PORT="$CORE_PORT" DATABASE_URL="${PG_ADMIN%/*}/$DB" REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}" \
    REDIS_KEY_PREFIX="bench-edge:$$:" TMS_API_URL="$TMS_URL" JWT_SECRET="$JWT_SECRET" \
    INTERNAL_API_SECRET="$INTERNAL_API_SECRET" EDGE_FANOUT_URL="http://127.0.0.1:$1/internal/v1/fanout" RUST_LOG=warn \
    setsid "$TARGET_DIR/release/core-api" >>"$RUN_DIR/core.log" 2>&1 </dev/null &
  CORE_PID=$!
  PIDS+=("$CORE_PID")
  wait_http "http://127.0.0.1:$CORE_PORT/health/ready" core-api "$CORE_PID"
}

EDGE_VARS=(
  --var "JWT_SECRET:$JWT_SECRET" --var "INTERNAL_API_SECRET:$INTERNAL_API_SECRET"
  --var "TMS_JWKS_URL:$TMS_URL/.well-known/jwks.json" --var JWKS_MIN_REFRESH_SECS:1
  --var "PING_INTERVAL_MS:$PING_INTERVAL_MS" --var "PING_TIMEOUT_MS:$PING_TIMEOUT_MS"
)

# run_workloads TARGET KIND URL PID COMM: idle first (the cleanest memory
# baseline), then one room, then ten; a failed workload is recorded, not fatal.
run_workloads() {
  local name=$1 kind=$2 url=$3 pid=$4 comm=$5
  local common=(--url "$url" --target "$kind" --tms "$TMS_URL" --secret "$INTERNAL_API_SECRET")
  if wants idle; then
    log "$name: $IDLE_SOCKETS idle sockets over $IDLE_CYCLES ping cycles of $PING_INTERVAL_MS ms"
    timeout 330 node bench/load.mjs "${common[@]}" --workload idle --sockets "$IDLE_SOCKETS" --cycles "$IDLE_CYCLES" \
      --ping-interval-ms "$PING_INTERVAL_MS" --rss-root "$pid" --rss-comm "$comm" --out "$RESULTS/$name-idle.json" \
      >>"$RUN_DIR/load.log" 2>&1 || warn "$name idle workload failed (see $RUN_DIR/load.log)"
    sleep 5 # let the server settle after closing 2,000 sockets
  fi
  if wants room; then
    log "$name: 1 room x 20 members x 10 msg/s for ${DURATION}s (+${WARMUP}s warm-up)"
    timeout 330 node bench/load.mjs "${common[@]}" --workload rooms --rooms 1 --members 20 --rate 10 \
      --duration "$DURATION" --warmup "$WARMUP" --out "$RESULTS/$name-room.json" \
      >>"$RUN_DIR/load.log" 2>&1 || warn "$name one-room workload failed (see $RUN_DIR/load.log)"
    sleep 2
  fi
  if wants rooms10; then
    log "$name: 10 rooms x 20 members x 10 msg/s for ${DURATION}s (+${WARMUP}s warm-up)"
    timeout 330 node bench/load.mjs "${common[@]}" --workload rooms --rooms 10 --members 20 --rate 10 \
      --duration "$DURATION" --warmup "$WARMUP" --out "$RESULTS/$name-rooms10.json" \
      >>"$RUN_DIR/load.log" 2>&1 || warn "$name ten-room workload failed (see $RUN_DIR/load.log)"
  fi
}

# run_node_edge NAME SCRIPT DESCRIPTION: the edge in workerd started by a Node
# runner (workerd-edge.mjs or miniflare-edge.mjs), with its own core
run_node_edge() {
  local name=$1 script=$2 what=$3 port pid
  port=$(free_port)
  start_core "$port"
  setsid node "$script" --port "$port" --config .wrangler-bench.toml \
    --var "CORE_API_URL:http://127.0.0.1:$CORE_PORT" "${EDGE_VARS[@]}" \
    >"$RUN_DIR/$name.log" 2>&1 </dev/null &
  pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/health" "$what" "$pid"
  run_workloads "$name" edge "http://127.0.0.1:$port" "$pid" workerd
  stop_group "$pid"
}

for target in $TARGETS; do
  case "$target" in
    reference)
      PING_INTERVAL_MS="$PING_INTERVAL_MS" PING_TIMEOUT_MS="$PING_TIMEOUT_MS" PORT=0 \
        setsid node bench/reference-server.mjs >"$RUN_DIR/reference.log" 2>&1 </dev/null &
      pid=$!
      PIDS+=("$pid")
      for _ in $(seq 1 100); do grep -q '^listening' "$RUN_DIR/reference.log" && break; sleep 0.1; done
      port=$(awk '/^listening/ { print $2; exit }' "$RUN_DIR/reference.log")
      [ -n "$port" ] || die "the reference server did not start (see $RUN_DIR/reference.log)"
      run_workloads reference reference "http://127.0.0.1:$port" "$pid" node
      stop_group "$pid"
      ;;
    wrangler)
      port=$(free_port)
      start_core "$port"
      WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false XDG_CONFIG_HOME="$ROOT/.wrangler-home" NO_COLOR=1 \
        setsid node_modules/.bin/wrangler dev -c .wrangler-bench.toml --local --ip 127.0.0.1 --port "$port" \
        --show-interactive-dev-session=false --persist-to "$RUN_DIR/state" --log-level warn \
        --var "CORE_API_URL:http://127.0.0.1:$CORE_PORT" "${EDGE_VARS[@]}" \
        >"$RUN_DIR/wrangler.log" 2>&1 </dev/null &
      pid=$!
      PIDS+=("$pid")
      wait_http "http://127.0.0.1:$port/health" "wrangler dev" "$pid"
      run_workloads wrangler edge "http://127.0.0.1:$port" "$pid" workerd
      stop_group "$pid"
      ;;
    floor)
      # workerd's own memory per held WebSocket: the idle workload only
      port=$(free_port)
      setsid node bench/workerd-edge.mjs --floor --port "$port" >"$RUN_DIR/floor.log" 2>&1 </dev/null &
      pid=$!
      PIDS+=("$pid")
      wait_http "http://127.0.0.1:$port/health" "the floor worker" "$pid"
      if wants idle; then
        log "floor: $IDLE_SOCKETS idle sockets held by a do-nothing Durable Object"
        timeout 330 node bench/load.mjs --url "http://127.0.0.1:$port" --target reference --workload idle \
          --sockets "$IDLE_SOCKETS" --cycles "$IDLE_CYCLES" --ping-interval-ms "$PING_INTERVAL_MS" \
          --rss-root "$pid" --rss-comm workerd --out "$RESULTS/floor-idle.json" \
          >>"$RUN_DIR/load.log" 2>&1 || warn "floor idle workload failed (see $RUN_DIR/load.log)"
      fi
      stop_group "$pid"
      ;;
    workerd) run_node_edge workerd bench/workerd-edge.mjs "the edge in workerd serve" ;;
    miniflare) run_node_edge miniflare bench/miniflare-edge.mjs "the edge under Miniflare" ;;
    *) die "unknown target: $target (reference, floor, wrangler, workerd, miniflare)" ;;
  esac
done

node bench/report.mjs --results "$RESULTS" --out BENCHMARKS.md --plot bench/latency.png \
  --ping-interval-ms "$PING_INTERVAL_MS" --targets "$TARGETS"

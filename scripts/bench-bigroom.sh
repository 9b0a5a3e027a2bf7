#!/usr/bin/env bash
# Large-group benchmark (issue 16, item 7): the edge in `workerd serve`, core
# (debug build by default) on a private Redis (so its command counts are the
# run's alone) and its own database, the fan-out through a byte-counting
# proxy; then bench/bigroom.mjs: S sockets on /notifications spread over
# gateways of at most GATEWAY_MAX_SOCKETS, groups of each K, the owner
# sending RATE msg/s over REST for DURATION s. Prints one JSON row per K,
# keeps them in .dev/bench-bigroom/results.json and writes its section of
# BENCHMARKS.md (between the bench-bigroom markers); not part of `make test`.
#
# usage: scripts/bench-bigroom.sh
# env:   SOCKETS=200 (at most 1,000: the stand-in's load users) KS=20,1000,10000,100000 RATE=20 DURATION=10
#        GATEWAY_MAX_SOCKETS=40 (S / 5: at least 4 gateways)  GATEWAY_SPREAD_SHARDS (the edge's, default 4)
#        PROFILE=debug|release
#        WAVE=0 (then this many sockets connect at once into one group of 10,000)  WAVE_RATE=RATE (msg/s then)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
LOG_TAG=bench-bigroom
cd "$ROOT"

SOCKETS=${SOCKETS:-200}
KS=${KS:-20,1000,10000,100000}
RATE=${RATE:-20}
DURATION=${DURATION:-10}
GATEWAY_MAX_SOCKETS=${GATEWAY_MAX_SOCKETS:-$((SOCKETS / 5))}
WAVE=${WAVE:-0}
WAVE_RATE=${WAVE_RATE:-$RATE}
GATEWAY_SPREAD_SHARDS=${GATEWAY_SPREAD_SHARDS:-4}
PROFILE=${PROFILE:-debug}
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
RUN_DIR="$ROOT/.dev/bench-bigroom"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bash scripts/ensure-tools.sh --base --worker --node
use_local_node
bash scripts/ensure-services.sh
have psql || apt_install postgresql-client
log "building core-api and tms-standin ($PROFILE)"
if [ "$PROFILE" = release ]; then cargo build -q --release -p core-api -p tms-standin; else cargo build -q -p core-api -p tms-standin; fi
edge_is_stale && bash scripts/build-edge.sh
wrangler_config_without_build "$ROOT/.wrangler-bench.toml"

rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
DB="teamchat_bench_bigroom_$$"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
JWT_SECRET="bench-jwt-secret-0123456789abcdef0123456789"
INTERNAL_API_SECRET="bench-internal-secret-0123456789abcdef012"
export TMS_API_KEY="bench-tms-api-key"
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do stop_group "$pid"; done
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ "$rc" -ne 0 ] && for f in "$RUN_DIR"/*.log; do [ -f "$f" ] && { warn "--- last lines of $f"; tail -n 20 "$f" >&2; }; done
  exit "$rc"
}
trap cleanup EXIT INT TERM

psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
REDIS_PORT=$(free_port)
setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$RUN_DIR" \
  >"$RUN_DIR/redis.log" 2>&1 </dev/null &
PIDS+=($!)
TMS_PORT=$(free_port)
TMS_STANDIN_ADDR="127.0.0.1:$TMS_PORT" JWT_SECRET="$JWT_SECRET" RUST_LOG=warn \
  setsid "$TARGET_DIR/$PROFILE/tms-standin" >"$RUN_DIR/tms.log" 2>&1 </dev/null &
PIDS+=($!)
wait_http "http://127.0.0.1:$TMS_PORT/health" tms-standin "${PIDS[-1]}"
TMS_URL="http://127.0.0.1:$TMS_PORT"

EDGE_PORT=$(free_port) PROXY_PORT=$(free_port) CORE_PORT=$(free_port)
setsid node bench/count-proxy.mjs --port "$PROXY_PORT" --to "http://127.0.0.1:$EDGE_PORT" \
  >"$RUN_DIR/proxy.log" 2>&1 </dev/null &
PIDS+=($!)
unlimited=1000000
HOST=127.0.0.1 PORT="$CORE_PORT" DATABASE_URL="${PG_ADMIN%/*}/$DB" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
  TMS_API_URL="$TMS_URL" JWT_SECRET="$JWT_SECRET" INTERNAL_API_SECRET="$INTERNAL_API_SECRET" \
  EDGE_FANOUT_URL="http://127.0.0.1:$PROXY_PORT/internal/v1/fanout" RUST_LOG=warn \
  RATE_LIMIT_API_PER_MINUTE=$unlimited RATE_LIMIT_SOCKET_SENDS_PER_SECOND=$unlimited \
  setsid "$TARGET_DIR/$PROFILE/core-api" >"$RUN_DIR/core.log" 2>&1 </dev/null &
CORE_PID=$!
PIDS+=("$CORE_PID")
wait_http "http://127.0.0.1:$CORE_PORT/health/ready" core-api "$CORE_PID" 120
setsid node bench/workerd-edge.mjs --port "$EDGE_PORT" --config .wrangler-bench.toml \
  --var "CORE_API_URL:http://127.0.0.1:$CORE_PORT" --var "JWT_SECRET:$JWT_SECRET" \
  --var "INTERNAL_API_SECRET:$INTERNAL_API_SECRET" --var "TMS_JWKS_URL:$TMS_URL/.well-known/jwks.json" \
  --var JWKS_MIN_REFRESH_SECS:1 --var "GATEWAY_MAX_SOCKETS:$GATEWAY_MAX_SOCKETS" \
  --var "GATEWAY_SPREAD_SHARDS:$GATEWAY_SPREAD_SHARDS" \
  >"$RUN_DIR/workerd.log" 2>&1 </dev/null &
PIDS+=($!)
wait_http "http://127.0.0.1:$EDGE_PORT/health" "the edge in workerd serve" "${PIDS[-1]}"

load_at() { cut -d' ' -f1 /proc/loadavg; }
LOAD_BEFORE=$(load_at)
log "S=$SOCKETS sockets (gateways of at most $GATEWAY_MAX_SOCKETS, connects spread over $GATEWAY_SPREAD_SHARDS), K=$KS, $RATE msg/s for ${DURATION}s ($PROFILE core)"
node bench/bigroom.mjs --edge "http://127.0.0.1:$EDGE_PORT" --core "http://127.0.0.1:$CORE_PORT" --tms "$TMS_URL" \
  --secret "$INTERNAL_API_SECRET" --db "${PG_ADMIN%/*}/$DB" --redis-port "$REDIS_PORT" --core-pid "$CORE_PID" \
  --proxy "http://127.0.0.1:$PROXY_PORT" --sockets "$SOCKETS" --ks "$KS" --rate "$RATE" --duration "$DURATION" \
  --wave "$WAVE" --wave-rate "$WAVE_RATE" --out "$RUN_DIR/results.json" --md "$RUN_DIR/table.md" 2> >(tee "$RUN_DIR/bigroom.log" >&2)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
section="<!-- bench-bigroom:start -->
## Large groups: a message's cost against the group's size (\`scripts/bench-bigroom.sh\`)

One run, $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$commit\`, on this machine ($(nproc) CPUs; 1-minute load $LOAD_BEFORE before,
$(load_at) after; other work shared the CPUs). The edge in \`workerd serve\` with \`GATEWAY_MAX_SOCKETS\` $GATEWAY_MAX_SOCKETS and
\`GATEWAY_SPREAD_SHARDS\` $GATEWAY_SPREAD_SHARDS, a $PROFILE core on a private Redis and its own database, the TMS stand-in. For each K:
the same S = $SOCKETS sockets (users \`load-001\`…, one socket each) connect on \`/notifications\` (not joined to the room: the
path that used to grow with K) and a group of K members is made. When K − 1 ≥ S, every socket's user is a member: the group
(the owner, the socket users, then members inserted straight into Postgres) is made before the connects, which register them.
When K − 1 < S, the sockets connect first and K − 1 of them, taken round-robin over the gateways they landed on, become the
members (added over REST, which registers their gateways): a small group's members sit on as many gateways as a large
one's, so K = 20 is compared with K = 100,000 at the same gateways named. Once a warm-up message reached every member socket
and Redis was idle for a second, the owner sends $RATE msg/s over REST for $DURATION s.
*delivered*: copies received / (messages × member sockets); *gateways named*: object requests per message minus the Room;
*Redis commands*: \`INFO commandstats\` of the private Redis over the window, every command of core's, including the gateways'
periodic full presence report (every 120 s per gateway, not a per-message cost) when one falls in the window; *of them, the
periodic presence report*: its share, 3 commands (\`hgetall\`, \`hset\`, \`expire\`) per reported user, counted as 3 × the window's
\`hset\` calls (the report is the only writer of \`hset\` between connects; its one script call per report is not subtracted);
*core CPU*: utime + stime of core's process; *bytes*: bodies of core's \`POST /internal/v1/fanout\`.

$(cat "$RUN_DIR/table.md")

Reproduce: \`SOCKETS=$SOCKETS KS=$KS RATE=$RATE DURATION=$DURATION WAVE=$WAVE WAVE_RATE=$WAVE_RATE GATEWAY_MAX_SOCKETS=$GATEWAY_MAX_SOCKETS GATEWAY_SPREAD_SHARDS=$GATEWAY_SPREAD_SHARDS PROFILE=$PROFILE bash scripts/bench-bigroom.sh\` (logs in \`.dev/bench-bigroom\`).
<!-- bench-bigroom:end -->"
printf '%s\n' "$section"
if grep -q '<!-- bench-bigroom:start -->' BENCHMARKS.md; then
  SECTION="$section" awk '
    /<!-- bench-bigroom:start -->/ { print ENVIRON["SECTION"]; skip = 1; next }
    /<!-- bench-bigroom:end -->/ { skip = 0; next }
    !skip' BENCHMARKS.md > "$RUN_DIR/BENCHMARKS.md"
  cp "$RUN_DIR/BENCHMARKS.md" BENCHMARKS.md
else
  printf '\n%s\n' "$section" >> BENCHMARKS.md
fi
log "written to BENCHMARKS.md"

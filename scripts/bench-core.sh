#!/usr/bin/env bash
# Throughput of core's REST API under wrk, with a baseline from the same run:
#   scripts/bench-core.sh            (release build; DURATION=15s CONNECTIONS=50)
# Starts its own stand-in and core (release) on free ports over a fresh
# database, prints wrk's figures, and stops everything. Not part of `make test`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=bench
cd "$ROOT"
have wrk || apt_install wrk
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
TMS_PORT=$(free_port) CORE_PORT=$(free_port)
DB="teamchat_bench_$$"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 1
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

cargo build -q --release -p core-api -p tms-standin
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
export JWT_SECRET="bench-jwt-secret-0123456789abcdef0123456789" TMS_API_KEY="bench-key"
TMS_STANDIN_ADDR="127.0.0.1:$TMS_PORT" RUST_LOG=warn setsid target/release/tms-standin >/dev/null 2>&1 </dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$TMS_PORT/health" && break; sleep 0.2; done
HOST=127.0.0.1 PORT="$CORE_PORT" DATABASE_URL="${PG_ADMIN%/*}/$DB" REDIS_URL=redis://127.0.0.1:6379 \
  REDIS_KEY_PREFIX="bench:$$:" TMS_API_URL="http://127.0.0.1:$TMS_PORT" \
  INTERNAL_API_SECRET="bench-internal-secret-0123456789abcdef012" RUST_LOG=warn \
  setsid target/release/core-api >/dev/null 2>&1 </dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$CORE_PORT/health/ready" && break; sleep 0.2; done

BASE="http://127.0.0.1:$CORE_PORT"
TOKEN=$(curl -sf "http://127.0.0.1:$TMS_PORT/dev/token/alice?format=text")
export TOKEN
convs=()
for i in $(seq 1 50); do
  member=$(printf 'load-%03d' "$i")
  convs+=("$(curl -sf -X POST "$BASE/api/v1/conversations" -H "Authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "{\"type\":\"direct\",\"member_ids\":[\"$member\"]}" |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["data"]["id"])')")
done

run() { # LABEL wrk-args...
  log "$1"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${@:2}" | grep -E "Requests/sec|Latency|50%|99%|non-2xx|requests in"
}
run "baseline: GET /health/live" "$BASE/health/live"
run "GET /api/v1/auth/me (JWT check, cached user, cached profile)" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/auth/me"
CONVS="$(IFS=,; echo "${convs[*]}")" run "POST /api/v1/messages over 50 conversations" -s scripts/bench-post-message.lua "$BASE"
CONVS="${convs[0]}" run "POST /api/v1/messages into one conversation (every send contends for its seq)" -s scripts/bench-post-message.lua "$BASE"
run "GET /api/v1/conversations/{id}/messages?limit=50" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/conversations/${convs[0]}/messages?limit=50"
log "messages stored: $(psql "${PG_ADMIN%/*}/$DB" -Atc 'SELECT count(*) FROM messages')"

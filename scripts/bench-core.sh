#!/usr/bin/env bash
# Throughput of core's REST API under wrk, against a Postgres ceiling from the same run:
#   scripts/bench-core.sh            (release build; DURATION=15s CONNECTIONS=50)
#   QUICK=1 scripts/bench-core.sh    only the send comparison, not the other routes
# Starts its own stand-in and core (release) on free ports over a fresh
# database, then
#   1. the ceiling: pgbench with CONNECTIONS clients, one message per
#      transaction (BEGIN; take the next seq of a conversation and insert the
#      row; COMMIT), over the same 50 conversations;
#   2. core: wrk POST /api/v1/messages with CONNECTIONS connections over them,
#      once with each send committing alone (SEND_BATCH_MAX=1), once with
#      group commit (SEND_BATCH_MAX, default 64);
# prints the three rates and their ratios to the ceiling, and checks from the database that every
# acknowledged send is stored and that seq is gap-free in every conversation
# (the script fails otherwise). Then the other routes, and stops everything.
# Not part of `make test`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
LOG_TAG=bench
cd "$ROOT"
have wrk || apt_install wrk
have pgbench || apt_install postgresql-contrib
have pgbench || die "pgbench is missing (Debian: postgresql-contrib, or postgresql-client-<major>)"
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}

TMS_PORT=$(free_port) CORE_PORT=$(free_port)
DB="teamchat_bench_$$"
PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 1
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

WORK=$(mktemp -d)
# the checked queries build from the committed .sqlx/ data, no database needed
SQLX_OFFLINE=true cargo build -q --release -p core-api -p tms-standin
# copies: a shared CARGO_TARGET_DIR may be rebuilt by someone else meanwhile
cp "${CARGO_TARGET_DIR:-target}/release/core-api" "${CARGO_TARGET_DIR:-target}/release/tms-standin" "$WORK/"
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
export JWT_SECRET="bench-jwt-secret-0123456789abcdef0123456789" TMS_API_KEY="bench-key"
TMS_STANDIN_ADDR="127.0.0.1:$TMS_PORT" RUST_LOG=warn setsid "$WORK/tms-standin" >/dev/null 2>&1 </dev/null &
PIDS+=($!)
wait_http "http://127.0.0.1:$TMS_PORT/health" tms-standin "${PIDS[-1]}"
start_core() { # SEND_BATCH_MAX: group commit's batch size, 1 turns it off
  HOST=127.0.0.1 PORT="$CORE_PORT" DATABASE_URL="${PG_ADMIN%/*}/$DB" REDIS_URL=redis://127.0.0.1:6379 \
    REDIS_KEY_PREFIX="bench:$$:" TMS_API_URL="http://127.0.0.1:$TMS_PORT" \
    INTERNAL_API_SECRET="bench-internal-secret-0123456789abcdef012" RUST_LOG=warn \
    DATABASE_MAX_CONNECTIONS="$CONNECTIONS" SEND_BATCH_MAX="$1" \
    setsid "$WORK/core-api" >/dev/null 2>&1 </dev/null &
  CORE_PID=$!
  PIDS+=("$CORE_PID")
  wait_http "http://127.0.0.1:$CORE_PORT/health/ready" core-api "$CORE_PID"
}
stop_core() {
  kill -TERM -- "-$CORE_PID" 2>/dev/null || true
  while kill -0 "$CORE_PID" 2>/dev/null; do sleep 0.2; done
}
start_core 1

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

DB_URL="${PG_ADMIN%/*}/$DB"
secs=${DURATION%s}
case "$secs" in *[!0-9]*) die "DURATION must be in seconds, like 15s (got $DURATION)" ;; esac

run() { # LABEL wrk-args...
  log "$1"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${@:2}" | tee "$WORK/wrk.out" |
    grep -E "Requests/sec|Latency|50%|99%|non-2xx|requests in|acknowledged"
}

# 1. the ceiling: what Postgres does with one message per transaction
psql "$DB_URL" -qc "CREATE TABLE bench_targets AS
  SELECT row_number() OVER (ORDER BY id) AS n, id AS conversation_id, created_by AS sender_id FROM conversations" >/dev/null
cat >"$WORK/send.sql" <<'SQL'
\set n random(1, 50)
BEGIN;
WITH c AS (
  UPDATE conversations SET last_seq = last_seq + 1, last_message_at = now(), updated_at = now()
  WHERE id = (SELECT conversation_id FROM bench_targets WHERE n = :n)
  RETURNING id, last_seq)
INSERT INTO messages (conversation_id, seq, sender_id, kind, content)
SELECT c.id, c.last_seq, t.sender_id, 'text', 'pgbench message' FROM c, bench_targets t WHERE t.n = :n;
COMMIT;
SQL
log "ceiling: pgbench -c $CONNECTIONS -M prepared, one message per transaction, ${secs}s"
pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$secs" -f "$WORK/send.sql" "$DB_URL" >"$WORK/pgbench.out" 2>&1 ||
  { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
grep -E "^(tps|latency average|number of failed)" "$WORK/pgbench.out" >&2 || true
ceiling=$(awk '/^tps/ { print $3; exit }' "$WORK/pgbench.out")
pg_rows=$(psql "$DB_URL" -Atc "SELECT count(*) FROM messages WHERE content = 'pgbench message'")

# 2. core's sends over the same conversations: each send on its own, then with group commit
stored_now() { psql "$DB_URL" -Atc "SELECT count(*) FROM messages WHERE content LIKE 'load test message %'"; }
sends() { # LABEL -> sets rate, acked
  local before
  before=$(stored_now)
  CONVS="$(IFS=,; echo "${convs[*]}")" run "$1" -s scripts/bench-post-message.lua "$BASE"
  rate=$(awk '/^Requests\/sec/ { print $2; exit }' "$WORK/wrk.out")
  acked=$(awk '/^acknowledged/ { print $3; exit }' "$WORK/wrk.out")
  sleep 1 # sends still in flight when wrk stopped may commit now; they only add rows
  stored=$(($(stored_now) - before))
  lost=$((acked > stored ? acked - stored : 0))
  log "$acked acknowledged, $stored stored, $lost lost"
  [ "$lost" = 0 ] || die "$lost acknowledged sends are not stored"
}
sends "POST /api/v1/messages over 50 conversations, SEND_BATCH_MAX=1 (each send commits alone)"
single=$rate single_acked=$acked
stop_core
start_core "${SEND_BATCH_MAX:-64}"
sends "POST /api/v1/messages over 50 conversations, SEND_BATCH_MAX=${SEND_BATCH_MAX:-64} (group commit)"
grouped=$rate grouped_acked=$acked
gaps=$(psql "$DB_URL" -Atc "SELECT count(*) FROM (
  SELECT c.id FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
  GROUP BY c.id, c.last_seq
  HAVING count(m.id) <> c.last_seq OR coalesce(max(m.seq), 0) <> c.last_seq OR coalesce(min(m.seq), 1) <> 1) bad")
ratio() { python3 -c "print(f'{$1 / $ceiling:.2f}x')"; }

row() { printf '| %-58s | %10s | %7s |\n' "$@"; }
echo
row "$CONNECTIONS clients, ${secs}s each" "per second" "ratio"
row "----------------------------------------------------------" "----------" "-------"
row "pgbench ceiling (1 message per transaction)" "$(printf '%.0f' "$ceiling")" "1.00x"
row "core POST /api/v1/messages, each send commits alone" "$(printf '%.0f' "$single")" "$(ratio "$single")"
row "core POST /api/v1/messages, group commit" "$(printf '%.0f' "$grouped")" "$(ratio "$grouped")"
printf '\npgbench rows %s; core acknowledged %s + %s sends, 0 lost; conversations with a seq gap: %s\n\n' \
  "$pg_rows" "$single_acked" "$grouped_acked" "$gaps"
[ "$gaps" = 0 ] || die "$gaps conversations have a gap in seq"

[ "${QUICK:-0}" = 1 ] && exit 0
run "baseline: GET /health/live" "$BASE/health/live"
run "GET /api/v1/auth/me (JWT check, cached user, cached profile)" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/auth/me"
CONVS="${convs[0]}" run "POST /api/v1/messages into one conversation (every send contends for its seq)" -s scripts/bench-post-message.lua "$BASE"
run "GET /api/v1/conversations/{id}/messages?limit=50" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/conversations/${convs[0]}/messages?limit=50"
log "messages stored: $(psql "$DB_URL" -Atc 'SELECT count(*) FROM messages')"

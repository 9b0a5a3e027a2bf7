#!/usr/bin/env bash
# Throughput of core's REST API under wrk, against Postgres ceilings from the same run:
#   scripts/bench-core.sh            (release build; DURATION=15s CONNECTIONS=50)
#   QUICK=1 scripts/bench-core.sh    only the send and receipt comparisons, not the other routes
# Starts its own stand-in and core (release) on free ports over a fresh
# database, then
#   1. the ceilings, pgbench with CONNECTIONS clients over the same 50
#      conversations: one message per transaction (BEGIN; take the next seq
#      of a conversation and insert the row; COMMIT) on this schema
#      (messages partitioned by conversation) and on the schema before
#      migration 20261206000100 (unpartitioned, a second scratch database);
#      one read receipt per transaction (the mark and the read mark);
#   2. core: wrk POST /api/v1/messages with CONNECTIONS connections over the
#      conversations, once with each send committing alone (SEND_BATCH_MAX=1),
#      once with group commit (SEND_BATCH_MAX, default 64), once through two
#      core replicas at once (group commit, CONNECTIONS/2 each);
#   3. core: wrk POST /api/v1/messages/{id}/read by the conversations' other
#      members, each receipt alone (RECEIPT_BATCH_MAX=1), then group commit;
# prints the rates and their ratios to the ceilings, and checks from the
# database that every acknowledged send is stored, that seq is gap-free in
# every conversation and that Postgres counted no deadlock (the script fails
# otherwise). Then the other routes, and stops everything.
# Its cores run with the per-user limits lifted (RATE_LIMIT_*=1000000: the
# bench sends as one user), and a request counts only when answered 2xx: the
# rates are acknowledged sends (receipts) per second, and any other answer
# (a 429, a 5xx) or socket error fails the script.
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
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS ${DB}_flat WITH (FORCE)" >/dev/null 2>&1 || true
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
CORE_PORT2=$(free_port)
declare -A CORE_PIDS=()
start_core() { # PORT SEND_BATCH_MAX RECEIPT_BATCH_MAX [POOL] (1 turns group commit off)
  HOST=127.0.0.1 PORT="$1" DATABASE_URL="${PG_ADMIN%/*}/$DB" REDIS_URL=redis://127.0.0.1:6379 \
    REDIS_KEY_PREFIX="bench:$$:" TMS_API_URL="http://127.0.0.1:$TMS_PORT" \
    INTERNAL_API_SECRET="bench-internal-secret-0123456789abcdef012" RUST_LOG=warn \
    DATABASE_MAX_CONNECTIONS="${4:-$CONNECTIONS}" SEND_BATCH_MAX="$2" RECEIPT_BATCH_MAX="$3" \
    RATE_LIMIT_API_PER_MINUTE=1000000 RATE_LIMIT_SOCKET_SENDS_PER_SECOND=1000000 \
    RATE_LIMIT_UPLOAD_URLS_PER_MINUTE=1000000 \
    setsid "$WORK/core-api" >/dev/null 2>&1 </dev/null &
  CORE_PIDS[$1]=$!
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$1/health/ready" core-api "$!"
}
stop_core() { # PORT
  local pid=${CORE_PIDS[$1]}
  kill -TERM -- "-$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}
start_core "$CORE_PORT" 1 1

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

run() { # LABEL wrk-args...; fails on any answer other than 2xx
  log "$1"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${@:2}" | tee "$WORK/wrk.out" |
    grep -E "Requests/sec|Latency|50%|99%|Non-2xx|other than|socket errors|requests in|acknowledged"
  local bad
  bad=$(awk '/^  Non-2xx or 3xx responses:/ { n += $5 } /^answers other than 20[01]:/ { n += $5 }
    /^socket errors:/ { n += $3 } /^  Socket errors:/ { n += 1 } END { print n + 0 }' "$WORK/wrk.out")
  [ "$bad" = 0 ] || die "$1: $bad requests were not answered 2xx (or failed on the socket); see above"
}

# 1. the ceilings: what Postgres does with one message (one receipt) per transaction
psql "$DB_URL" -qc "CREATE TABLE bench_targets AS
  SELECT row_number() OVER (ORDER BY c.id) AS n, c.id AS conversation_id, c.created_by AS sender_id,
         (SELECT user_id FROM conversation_members cm WHERE cm.conversation_id = c.id
           AND cm.user_id <> c.created_by) AS reader_id
    FROM conversations c" >/dev/null
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
cat >"$WORK/receipt.sql" <<'SQL'
\set n random(1, 50)
\set s random(1, 40)
BEGIN;
INSERT INTO message_status (conversation_id, message_id, user_id, delivered_at, read_at)
SELECT m.conversation_id, m.id, t.reader_id, now(), now()
  FROM bench_targets t JOIN messages m ON m.conversation_id = t.conversation_id AND m.seq = :s
 WHERE t.n = :n
ON CONFLICT (conversation_id, message_id, user_id) DO UPDATE SET
  delivered_at = COALESCE(message_status.delivered_at, EXCLUDED.delivered_at),
  read_at = COALESCE(message_status.read_at, EXCLUDED.read_at);
UPDATE conversation_members cm SET last_read_seq = GREATEST(cm.last_read_seq, :s)
  FROM bench_targets t WHERE t.n = :n AND cm.conversation_id = t.conversation_id AND cm.user_id = t.reader_id;
COMMIT;
SQL
pgbench_tps() { # URL SCRIPT LABEL -> prints tps
  log "ceiling: $3: pgbench -c $CONNECTIONS -M prepared, ${secs}s"
  pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$secs" -f "$2" "$1" >"$WORK/pgbench.out" 2>&1 ||
    { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
  grep -E "^(tps|latency average|number of failed)" "$WORK/pgbench.out" >&2 || true
  awk '/^tps/ { print $3; exit }' "$WORK/pgbench.out"
}
ceiling=$(pgbench_tps "$DB_URL" "$WORK/send.sql" "one message per transaction, partitioned schema")
pg_rows=$(psql "$DB_URL" -Atc "SELECT count(*) FROM messages WHERE content = 'pgbench message'")

# the same ceiling on the schema before keys by conversation (unpartitioned)
psql "$PG_ADMIN" -qc "CREATE DATABASE ${DB}_flat" >/dev/null
FLAT_URL="${PG_ADMIN%/*}/${DB}_flat"
for f in migrations/*.sql; do
  [ "$(basename "$f" | cut -c1-14)" -lt 20261206000100 ] || continue
  psql "$FLAT_URL" -q -v ON_ERROR_STOP=1 -1 -f "$f" >/dev/null
done
psql "$FLAT_URL" -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
INSERT INTO users (tms_user_id) VALUES ('alice');
INSERT INTO conversations (kind, title, created_by)
  SELECT 'group', 'load ' || i, (SELECT id FROM users) FROM generate_series(1, 50) i;
INSERT INTO conversation_members (conversation_id, user_id) SELECT id, created_by FROM conversations;
CREATE TABLE bench_targets AS
  SELECT row_number() OVER (ORDER BY id) AS n, id AS conversation_id, created_by AS sender_id FROM conversations;
SQL
flat=$(pgbench_tps "$FLAT_URL" "$WORK/send.sql" "one message per transaction, unpartitioned schema (before 20261206000100)")

# 2. core's sends over the same conversations: each send on its own, with group commit, two replicas
stored_now() { psql "$DB_URL" -Atc "SELECT count(*) FROM messages WHERE content LIKE 'load test message %'"; }
deadlocks() { psql "$DB_URL" -Atc "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"; }
deadlocks_before=$(deadlocks)
check_stored() { # BEFORE ACKED
  sleep 1 # sends still in flight when wrk stopped may commit now; they only add rows
  stored=$(($(stored_now) - $1))
  lost=$(($2 > stored ? $2 - stored : 0))
  log "$2 acknowledged, $stored stored, $lost lost"
  [ "$lost" = 0 ] || die "$lost acknowledged sends are not stored"
}
sends() { # LABEL -> sets rate, acked
  local before
  before=$(stored_now)
  CONVS="$(IFS=,; echo "${convs[*]}")" run "$1" -s scripts/bench-post-message.lua "$BASE"
  rate=$(awk '/^acknowledged\/s:/ { print $2; exit }' "$WORK/wrk.out")
  acked=$(awk '/^acknowledged/ { print $3; exit }' "$WORK/wrk.out")
  check_stored "$before" "$acked"
}
sends "POST /api/v1/messages over 50 conversations, SEND_BATCH_MAX=1 (each send commits alone)"
single=$rate single_acked=$acked
stop_core "$CORE_PORT"
start_core "$CORE_PORT" "${SEND_BATCH_MAX:-64}" 1
sends "POST /api/v1/messages over 50 conversations, SEND_BATCH_MAX=${SEND_BATCH_MAX:-64} (group commit)"
grouped=$rate grouped_acked=$acked

# two replicas over the same database and Redis, each taking half the
# connections (and half the pool: Postgres allows 100 clients by default)
stop_core "$CORE_PORT"
start_core "$CORE_PORT" "${SEND_BATCH_MAX:-64}" 1 "$((CONNECTIONS / 2))"
start_core "$CORE_PORT2" "${SEND_BATCH_MAX:-64}" 1 "$((CONNECTIONS / 2))"
log "POST /api/v1/messages through two core replicas at once, $((CONNECTIONS / 2)) connections each"
before=$(stored_now)
wrks=()
for port in "$CORE_PORT" "$CORE_PORT2"; do
  CONVS="$(IFS=,; echo "${convs[*]}")" wrk -t"$THREADS" -c"$((CONNECTIONS / 2))" -d"$DURATION" \
    -s scripts/bench-post-message.lua "http://127.0.0.1:$port" >"$WORK/wrk-$port.out" &
  wrks+=("$!")
done
wait "${wrks[@]}"
two_rate=0 two_acked=0
for port in "$CORE_PORT" "$CORE_PORT2"; do
  grep -E "Requests/sec|other than|socket errors|acknowledged" "$WORK/wrk-$port.out" >&2
  bad=$(awk '/^answers other than 201:/ { n += $5 } /^socket errors:/ { n += $3 } END { print n + 0 }' "$WORK/wrk-$port.out")
  [ "$bad" = 0 ] || die "replica on port $port: $bad requests were not answered 201"
  two_rate=$(python3 -c "print($two_rate + $(awk '/^acknowledged\/s:/ { print $2; exit }' "$WORK/wrk-$port.out"))")
  two_acked=$((two_acked + $(awk '/^acknowledged/ { print $3; exit }' "$WORK/wrk-$port.out")))
done
check_stored "$before" "$two_acked"
stop_core "$CORE_PORT2"

gaps=$(psql "$DB_URL" -Atc "SELECT count(*) FROM (
  SELECT c.id FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
  GROUP BY c.id, c.last_seq
  HAVING count(m.id) <> c.last_seq OR coalesce(max(m.seq), 0) <> c.last_seq OR coalesce(min(m.seq), 1) <> 1) bad")

# 3. receipts: each reader marks messages of their conversation read
stop_core "$CORE_PORT" # its connections, before pgbench takes CONNECTIONS more
receipt_ceiling=$(pgbench_tps "$DB_URL" "$WORK/receipt.sql" "one read receipt per transaction")
export RECEIPTS_FILE="$WORK/receipts.txt"
: >"$RECEIPTS_FILE"
for i in $(seq 1 50); do
  member=$(printf 'load-%03d' "$i")
  token=$(curl -sf "http://127.0.0.1:$TMS_PORT/dev/token/$member?format=text")
  psql "$DB_URL" -Atc "SELECT '$token|' || id FROM messages WHERE conversation_id = '${convs[$((i - 1))]}'
      AND content LIKE 'load test message %' ORDER BY seq LIMIT 40" >>"$RECEIPTS_FILE"
done
receipts() { # LABEL -> sets rate
  run "$1" -s scripts/bench-receipt.lua "$BASE"
  rate=$(awk '/^acknowledged\/s:/ { print $2; exit }' "$WORK/wrk.out")
}
start_core "$CORE_PORT" "${SEND_BATCH_MAX:-64}" 1
receipts "POST /api/v1/messages/{id}/read, RECEIPT_BATCH_MAX=1 (each receipt commits alone)"
receipt_single=$rate
stop_core "$CORE_PORT"
start_core "$CORE_PORT" "${SEND_BATCH_MAX:-64}" "${RECEIPT_BATCH_MAX:-64}"
receipts "POST /api/v1/messages/{id}/read, RECEIPT_BATCH_MAX=${RECEIPT_BATCH_MAX:-64} (group commit)"
receipt_grouped=$rate

sleep 1 # backends report their statistics within a second
new_deadlocks=$(($(deadlocks) - deadlocks_before))
ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }

row() { printf '| %-70s | %10s | %7s |\n' "$@"; }
echo
row "$CONNECTIONS clients, ${secs}s each" "acked/s" "ratio"
row "----------------------------------------------------------------------" "----------" "-------"
row "pgbench ceiling: 1 message per transaction (partitioned schema)" "$(printf '%.0f' "$ceiling")" "1.00x"
row "pgbench: 1 message per transaction, unpartitioned schema" "$(printf '%.0f' "$flat")" "$(ratio "$flat" "$ceiling")"
row "core POST /api/v1/messages, each send commits alone" "$(printf '%.0f' "$single")" "$(ratio "$single" "$ceiling")"
row "core POST /api/v1/messages, group commit" "$(printf '%.0f' "$grouped")" "$(ratio "$grouped" "$ceiling")"
row "core POST /api/v1/messages, group commit, two replicas" "$(printf '%.0f' "$two_rate")" "$(ratio "$two_rate" "$ceiling")"
row "pgbench ceiling: 1 read receipt per transaction" "$(printf '%.0f' "$receipt_ceiling")" "1.00x"
row "core POST /api/v1/messages/{id}/read, each receipt commits alone" "$(printf '%.0f' "$receipt_single")" "$(ratio "$receipt_single" "$receipt_ceiling")"
row "core POST /api/v1/messages/{id}/read, group commit" "$(printf '%.0f' "$receipt_grouped")" "$(ratio "$receipt_grouped" "$receipt_ceiling")"
printf '\npartitioned / unpartitioned pgbench ceiling: %s\n' "$(ratio "$ceiling" "$flat")"
printf 'pgbench rows %s; core acknowledged %s + %s + %s (two replicas) sends, 0 lost; conversations with a seq gap: %s; deadlocks: %s\n\n' \
  "$pg_rows" "$single_acked" "$grouped_acked" "$two_acked" "$gaps" "$new_deadlocks"
[ "$gaps" = 0 ] || die "$gaps conversations have a gap in seq"
[ "$new_deadlocks" = 0 ] || die "Postgres counted $new_deadlocks deadlocks"

[ "${QUICK:-0}" = 1 ] && exit 0
run "baseline: GET /health/live" "$BASE/health/live"
run "GET /api/v1/auth/me (JWT check, cached user, cached profile)" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/auth/me"
CONVS="${convs[0]}" run "POST /api/v1/messages into one conversation (every send contends for its seq)" -s scripts/bench-post-message.lua "$BASE"
run "GET /api/v1/conversations/{id}/messages?limit=50" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/conversations/${convs[0]}/messages?limit=50"
log "messages stored: $(psql "$DB_URL" -Atc 'SELECT count(*) FROM messages')"

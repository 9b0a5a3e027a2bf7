#!/usr/bin/env bash
# `make dev`: run the whole backend locally, in the foreground, until Ctrl-C.
#
#   1. loads .env if present, else the documented dev defaults (no .env needed);
#   2. ensures tools (cargo, a C linker, curl) and services (Postgres, Redis);
#   3. creates the dev database if missing;
#   4. builds and starts the TMS stand-in (:8100), the OSS stand-in (:9100)
#      and core-api (:8000), which applies the migrations at start; and the
#      edge (`wrangler dev` on :8787) unless DEV_NO_EDGE=1;
#   5. waits for /health/ready, prints URLs (the browser demo's among them)
#      and a curl walk-through, and stops every child on Ctrl-C. Logs: .dev/logs/*.log
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack.sh
source "$ROOT/scripts/stack.sh"
LOG_TAG=dev
cd "$ROOT"

# ---------- configuration ----------
edge_url_from_env="${EDGE_FANOUT_URL:-}"
if [ -f .env ]; then
  log "loading .env"
  set -a
  # shellcheck disable=SC1091
  source ./.env
  set +a
  edge_url_from_env="${EDGE_FANOUT_URL:-}"
fi
: "${HOST:=127.0.0.1}"
: "${PORT:=8000}"
: "${DATABASE_URL:=postgres://postgres:postgres@127.0.0.1:5432/teamchat_dev}"
: "${REDIS_URL:=redis://127.0.0.1:6379}"
: "${TMS_API_URL:=http://127.0.0.1:8100}"
: "${TMS_API_KEY:=dev-tms-api-key}"
: "${TMS_JWKS_URL:=${TMS_API_URL%/}/.well-known/jwks.json}"
: "${JWT_SECRET:=dev-jwt-secret-0123456789abcdef0123456789}"
: "${INTERNAL_API_SECRET:=dev-internal-secret-0123456789abcdef012345}"
: "${TMS_WEBHOOK_SECRET:=dev-tms-webhook-secret-0123456789abcdef0123}"
: "${ALLOWED_ORIGINS:=*}"
: "${ENVIRONMENT:=development}"
: "${RUST_LOG:=info}"
# file storage: the OSS stand-in unless .env points OSS_ENDPOINT elsewhere
: "${OSS_ACCESS_KEY_ID:=dev-oss-key}"
: "${OSS_ACCESS_KEY_SECRET:=dev-oss-secret-0123456789abcdef}"
: "${OSS_BUCKET_NAME:=teamchat-dev}"
: "${OSS_ENDPOINT:=http://127.0.0.1:9100}"
EDGE_PORT="${EDGE_PORT:-8787}"
# stand-in tokens must carry what core checks
[ -n "${JWT_ISSUER:-}" ] && : "${TMS_ISSUER:=$JWT_ISSUER}" && export TMS_ISSUER
[ -n "${JWT_AUDIENCE:-}" ] && : "${TMS_AUDIENCE:=$JWT_AUDIENCE}" && export TMS_AUDIENCE
export HOST PORT DATABASE_URL REDIS_URL TMS_API_URL TMS_API_KEY TMS_JWKS_URL JWT_SECRET \
  INTERNAL_API_SECRET TMS_WEBHOOK_SECRET ALLOWED_ORIGINS ENVIRONMENT RUST_LOG \
  OSS_ACCESS_KEY_ID OSS_ACCESS_KEY_SECRET OSS_BUCKET_NAME OSS_ENDPOINT

CORE_URL="http://127.0.0.1:$PORT"
LOGS="$ROOT/.dev/logs"
mkdir -p "$LOGS"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# The stand-in runs when TMS_API_URL points at this machine.
tms_hostport="${TMS_API_URL#*://}"
tms_hostport="${tms_hostport%%/*}"
case "$tms_hostport" in
  127.0.0.1:* | localhost:*) run_standin=1 ;;
  *) run_standin=0 ;;
esac
: "${TMS_STANDIN_ADDR:=${tms_hostport/localhost/127.0.0.1}}"
export TMS_STANDIN_ADDR

# The OSS stand-in runs when OSS_ENDPOINT points at this machine (path-style URLs).
oss_hostport="${OSS_ENDPOINT#*://}"
oss_hostport="${oss_hostport%%/*}"
case "$oss_hostport" in
  127.0.0.1:* | localhost:*)
    run_oss_standin=1
    : "${OSS_STANDIN_ADDR:=${oss_hostport/localhost/127.0.0.1}}"
    : "${OSS_REGION:=dev-local}"
    : "${OSS_URL_STYLE:=path}"
    export OSS_STANDIN_ADDR OSS_REGION OSS_URL_STYLE
    ;;
  *) run_oss_standin=0 ;;
esac

run_edge=0
if [ "${DEV_NO_EDGE:-0}" != 1 ]; then
  run_edge=1
  # core fans events out to the edge only when the edge runs
  export EDGE_FANOUT_URL="${edge_url_from_env:-http://127.0.0.1:$EDGE_PORT/internal/v1/fanout}"
elif [ -n "$edge_url_from_env" ]; then
  export EDGE_FANOUT_URL="$edge_url_from_env"
else
  unset EDGE_FANOUT_URL
fi

# ---------- tools and services ----------
tool_flags=(--base)
[ "$run_edge" = 1 ] && tool_flags+=(--worker --node)
"$ROOT/scripts/ensure-tools.sh" "${tool_flags[@]}"
"$ROOT/scripts/ensure-services.sh"
use_local_node

# ---------- database ----------
ensure_database() {
  local base="${DATABASE_URL%%\?*}" db
  db="${base##*/}"
  case "$base" in
    *@127.0.0.1[:/]* | *@localhost[:/]* | *://127.0.0.1[:/]* | *://localhost[:/]*) ;;
    *)
      log "DATABASE_URL is not local; not creating database $db"
      return
      ;;
  esac
  [[ "$db" =~ ^[A-Za-z0-9_]+$ ]] || die "DATABASE_URL: database name '$db' must be letters, digits and _"
  local admin="${base%/*}/postgres"
  if [ "$(psql "$admin" -tAqc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    log "creating database $db"
    psql "$admin" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$db\"" >/dev/null \
      || die "could not create database $db"
  fi
}
ensure_database

# ---------- ports must be free ----------
check_free() { # name port
  if port_open 127.0.0.1 "$2"; then
    die "port $2 ($1) is already in use: is another 'make dev' running? Stop it or set ${3:-PORT} in .env"
  fi
}
check_free core-api "$PORT" PORT
[ "$run_standin" = 1 ] && check_free tms-standin "${TMS_STANDIN_ADDR##*:}" TMS_API_URL
[ "$run_oss_standin" = 1 ] && check_free oss-standin "${OSS_STANDIN_ADDR##*:}" OSS_ENDPOINT
[ "$run_edge" = 1 ] && check_free edge "$EDGE_PORT" EDGE_PORT

# ---------- build ----------
log "cargo build -p core-api -p tms-standin -p oss-standin"
SQLX_OFFLINE=true cargo build -p core-api -p tms-standin -p oss-standin || die "build failed"
if [ "$run_edge" = 1 ]; then
  "$ROOT/scripts/build-edge.sh" || die "the edge Worker did not build (DEV_NO_EDGE=1 make dev runs without it)"
fi

# ---------- start ----------
stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  stop_stack
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

# start NAME CMD...: run in the background, output in .dev/logs/NAME.log
start() {
  local name="$1"
  shift
  : >"$LOGS/$name.log"
  spawn "$name" "$LOGS/$name.log" "$@"
  log "started $name (pid $SPAWNED_PID), log: .dev/logs/$name.log"
}

# await NAME URL SECONDS: wait for a 2xx at URL, failing fast if NAME died.
await() {
  wait_http "$2" "$1" "$SPAWNED_PID" "$3" "$LOGS/$1.log"
  log "$1 is ready ($2)"
}

if [ "$run_standin" = 1 ]; then
  # profile edits on the stand-in reach core as signed webhooks, through the
  # edge when it runs (the route needs no user token there)
  webhook_base="$CORE_URL"
  [ "$run_edge" = 1 ] && webhook_base="http://127.0.0.1:$EDGE_PORT"
  start tms-standin env TMS_WEBHOOK_URL="${TMS_WEBHOOK_URL:-$webhook_base/api/v1/webhooks/tms}" \
    "$TARGET_DIR/debug/tms-standin"
  await tms-standin "http://$TMS_STANDIN_ADDR/health" 60
else
  log "TMS_API_URL=$TMS_API_URL is not local: using that TMS, no stand-in"
fi

if [ "$run_oss_standin" = 1 ]; then
  start oss-standin "$TARGET_DIR/debug/oss-standin"
  await oss-standin "http://$OSS_STANDIN_ADDR/health" 60
else
  log "OSS_ENDPOINT=$OSS_ENDPOINT is not local: using that bucket, no OSS stand-in"
fi

start core-api "$TARGET_DIR/debug/core-api"
await core-api "$CORE_URL/health/ready" 120

# ---------- edge (wrangler dev on 127.0.0.1:$EDGE_PORT) ----------
# Runs unless DEV_NO_EDGE=1. The Worker is built above by
# scripts/build-edge.sh; wrangler then serves it in workerd, and
# EDGE_SKIP_BUILD=1 turns wrangler.toml's [build] (the same script) into a
# no-op so it does not rebuild twice. EDGE_WRANGLER_CONFIG picks another
# config; the --var flags are the Worker's local settings (secrets included).
if [ "$run_edge" = 1 ]; then
  mkdir -p "$ROOT/.wrangler-home"
  edge_config="${EDGE_WRANGLER_CONFIG:-wrangler.toml}"
  # shellcheck disable=SC2086  # EDGE_WRANGLER_ARGS is a list of extra flags
  start edge env EDGE_SKIP_BUILD=1 WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
    XDG_CONFIG_HOME="$ROOT/.wrangler-home" \
    "$ROOT/node_modules/.bin/wrangler" dev --local --ip 127.0.0.1 --port "$EDGE_PORT" \
    --show-interactive-dev-session=false -c "$edge_config" \
    --var "CORE_API_URL:$CORE_URL" \
    --var "JWT_SECRET:$JWT_SECRET" \
    --var "INTERNAL_API_SECRET:$INTERNAL_API_SECRET" \
    --var "TMS_JWKS_URL:$TMS_JWKS_URL" \
    --var "ALLOWED_ORIGINS:$ALLOWED_ORIGINS" \
    ${EDGE_WRANGLER_ARGS:-}
  await edge "http://127.0.0.1:$EDGE_PORT/health" 120
fi

# ---------- tell the developer ----------
TMS="http://${TMS_STANDIN_ADDR}"
[ "$run_standin" = 1 ] || TMS="$TMS_API_URL"
cat <<EOF

  teamchat is running (logs in .dev/logs/, Ctrl-C stops everything)

    core-api     $CORE_URL        ready: $CORE_URL/health/ready
    TMS stand-in $TMS
EOF
[ "$run_oss_standin" = 1 ] && echo "    OSS stand-in http://$OSS_STANDIN_ADDR   bucket: $OSS_BUCKET_NAME"
if [ "$run_edge" = 1 ]; then
  echo "    edge         http://127.0.0.1:$EDGE_PORT   socket.io: ws://127.0.0.1:$EDGE_PORT/socket.io/?EIO=4&transport=websocket"
  # the page asks the stand-in for tokens; ?tms= only when it is not on its default address
  demo_url="http://127.0.0.1:$EDGE_PORT/demo/"
  [ "$TMS" = "http://127.0.0.1:8100" ] || demo_url="$demo_url?tms=$TMS"
  echo "    demo         $demo_url   (open it in two windows, sign in as two users)"
fi
cat <<EOF

  Get a dev token (HS256, 1 h; users alice bob carol dave erin frank, load-001..load-1000):
    curl -s $TMS/dev/token/alice

  Change a profile in the stand-in: TMS's signed webhook tells core at once
  (the next GET /api/v1/users/bob shows the new name, co-members get user_updated):
    curl -s -X PUT $TMS/__control/users/bob -H 'content-type: application/json' \
      -d '{"id":"bob","display_name":"Robert"}'

  Create a DM and send a message:
    ALICE=\$(curl -s '$TMS/dev/token/alice?format=text')
    BOB=\$(curl -s '$TMS/dev/token/bob?format=text')
    CONV=\$(curl -s -X POST $CORE_URL/api/v1/conversations -H "Authorization: Bearer \$ALICE" \\
      -H 'content-type: application/json' -d '{"type":"direct","member_ids":["bob"]}' \\
      | grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)
    curl -s -X POST $CORE_URL/api/v1/messages -H "Authorization: Bearer \$ALICE" \\
      -H 'content-type: application/json' \\
      -d "{\"conversation_id\":\"\$CONV\",\"type\":\"text\",\"content\":\"hi bob\",\"client_msg_id\":\"m-1\"}"
    curl -s "$CORE_URL/api/v1/conversations/\$CONV/messages" -H "Authorization: Bearer \$BOB"

  Files: POST $CORE_URL/api/v1/files/upload-url, then PUT the bytes to its upload_url
  (OSS: $OSS_ENDPOINT); docs/api.md ("Files") walks through it with curl.

EOF

[ "$run_edge" = 1 ] && cat <<EOF
  Chat over Socket.IO through the edge, in two terminals:
    node scripts/chat.mjs alice bob
    node scripts/chat.mjs bob alice

EOF

# ---------- foreground until Ctrl-C or a child exits ----------
set +e
wait -n "${STACK_PIDS[@]}"
status=$?
set -e
for i in "${!STACK_PIDS[@]}"; do
  if ! kill -0 "${STACK_PIDS[$i]}" 2>/dev/null; then
    show_log "${STACK_LOGS[$i]}"
    die "${STACK_NAMES[$i]} exited (status $status)"
  fi
done

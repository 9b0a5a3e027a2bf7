# shellcheck shell=bash
# Starting, waiting on and stopping the local stack's processes: one set of
# helpers for scripts/dev.sh, tests/e2e/run.sh and the bench scripts. Source it
# after scripts/lib.sh; do not run it.
#
#   port=$(free_port)
#   spawn core "$LOGS/core.log" env PORT="$port" "$BIN/core-api"    # sets SPAWNED_PID
#   wait_http "http://127.0.0.1:$port/health/ready" core "$SPAWNED_PID" 120 "$LOGS/core.log"
#   trap stop_stack EXIT
#
# Every process runs in its own process group (setsid), so stopping it also
# stops what it started (wrangler's workerd, say).

STACK_PIDS=()
STACK_NAMES=()
STACK_LOGS=()

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# spawn NAME LOG CMD...: run CMD in the background in a new process group,
# stdout and stderr appended to LOG; its pid is in SPAWNED_PID.
spawn() {
  local name="$1" logfile="$2"
  shift 2
  mkdir -p "$(dirname "$logfile")"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  SPAWNED_PID=$!
  STACK_PIDS+=("$SPAWNED_PID")
  STACK_NAMES+=("$name")
  STACK_LOGS+=("$logfile")
}

# show_log LOG [LINES]: the end of a log, on stderr.
show_log() {
  [ -f "$1" ] || return 0
  warn "--- last lines of $1"
  tail -n "${2:-30}" "$1" >&2 || true
}

# wait_http URL NAME PID [SECONDS=60] [LOG]: wait for a 2xx answer at URL;
# fail at once when PID has exited, or after SECONDS, showing LOG.
wait_http() {
  local url="$1" name="$2" pid="$3" seconds="${4:-60}" logfile="${5:-}"
  local deadline=$((SECONDS + seconds))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      [ -n "$logfile" ] && show_log "$logfile"
      die "$name exited before it was ready"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      [ -n "$logfile" ] && show_log "$logfile"
      die "$name not ready at $url after ${seconds}s"
    fi
    sleep 0.2
  done
}

# stop_group PID: TERM its process group, then KILL what is left after 5 s.
stop_group() {
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 1 20); do
    kill -0 -- "-$1" 2>/dev/null || return 0
    sleep 0.25
  done
  kill -KILL -- "-$1" 2>/dev/null || true
}

# stop_stack: stops every spawned process, newest first.
stop_stack() {
  local i
  for ((i = ${#STACK_PIDS[@]} - 1; i >= 0; i--)); do
    stop_group "${STACK_PIDS[$i]}"
  done
  STACK_PIDS=()
  STACK_NAMES=()
  STACK_LOGS=()
}

# show_stack_logs: the end of every spawned process's log (after a failure).
show_stack_logs() {
  local logfile
  for logfile in "${STACK_LOGS[@]}"; do show_log "$logfile" "${1:-30}"; done
}

# scratch_db NAME: creates database NAME next to PG_ADMIN's and prints its URL.
# drop_db NAME: drops it, connections and all.
scratch_db() {
  psql "$PG_ADMIN" -qc "CREATE DATABASE $1" >/dev/null || die "could not create database $1"
  printf '%s/%s\n' "${PG_ADMIN%/*}" "$1"
}
drop_db() {
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 || true
}

# edge_is_stale: true when the Worker's build is older than its sources.
edge_is_stale() {
  [ ! -f "$ROOT/edge-worker/build/index.js" ] ||
    [ -n "$(find "$ROOT/edge-worker/src" "$ROOT/edge-worker/Cargo.toml" "$ROOT/shared-types/src" \
      "$ROOT/shared-auth/src" -newer "$ROOT/edge-worker/build/index.js" -print -quit)" ]
}

# wrangler_config_without_build OUT: wrangler.toml without its [build] step,
# for a Worker built once beforehand.
wrangler_config_without_build() {
  sed '/^\[build\]/,/^$/d' "$ROOT/wrangler.toml" >"$1"
}

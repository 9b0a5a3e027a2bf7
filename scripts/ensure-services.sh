#!/usr/bin/env bash
# Make Postgres (127.0.0.1:5432, login postgres:postgres over TCP) and Redis
# (127.0.0.1:6379) reachable.
#   - already reachable: nothing is changed (the Postgres login is checked);
#   - installed but stopped: started;
#   - not installed: installed with apt-get (sudo when not root), started,
#     and the `postgres` role gets the password `postgres`;
#   - already running, but login as postgres:postgres fails: the password of
#     that existing cluster is changed only if you say yes (asked only when
#     stdin is a terminal); otherwise the script prints what to do and stops.
# Waits until both answer, or fails with a clear message.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=services

PG_HOST=127.0.0.1
PG_PORT="${PG_PORT:-5432}"
REDIS_HOST=127.0.0.1
REDIS_PORT="${REDIS_PORT:-6379}"
PG_WAIT_SECS="${PG_WAIT_SECS:-60}"
REDIS_WAIT_SECS="${REDIS_WAIT_SECS:-30}"

# ---------- Postgres ----------

pg_cluster_version() {
  # the newest installed major version, e.g. 15
  find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n1
}

pg_installed() { have pg_ctlcluster && [ -n "$(pg_cluster_version)" ]; }

pg_ready() {
  if have pg_isready; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
  else
    port_open "$PG_HOST" "$PG_PORT"
  fi
}

pg_login_ok() {
  PGPASSWORD=postgres PGCONNECT_TIMEOUT=3 psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
    -tAqc 'SELECT 1' >/dev/null 2>&1
}

# as_postgres CMD...: run as the postgres OS user (local socket, peer auth).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  elif have sudo; then
    (cd / && sudo -u postgres "$@")
  else
    return 1
  fi
}

pg_set_password() {
  log "setting the password of the postgres role to 'postgres' (local dev only)"
  as_postgres psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qc "ALTER ROLE postgres WITH PASSWORD 'postgres'" >&2
}

pg_start() {
  local version
  version="$(pg_cluster_version)"
  if [ ! -d "/etc/postgresql/$version/main" ]; then
    log "creating Postgres $version cluster 'main'"
    as_root pg_createcluster "$version" main >&2
  fi
  log "starting Postgres $version (cluster main)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 \
    || pg_ready \
    || die "Postgres did not start; see /var/log/postgresql/postgresql-$version-main.log"
}

ensure_postgres() {
  local started=0
  if pg_ready; then
    log "Postgres is reachable at $PG_HOST:$PG_PORT"
  else
    if ! pg_installed; then
      log "Postgres is not installed"
      apt_install postgresql
      pg_installed || die "postgresql was installed but no cluster is configured under /etc/postgresql"
    fi
    # apt may already have started it
    pg_ready || pg_start
    wait_for "Postgres" "$PG_WAIT_SECS" pg_ready \
      || die "Postgres is not accepting connections on $PG_HOST:$PG_PORT after ${PG_WAIT_SECS}s"
    started=1
  fi

  have psql || apt_install postgresql-client
  pg_login_ok && return 0
  if [ "$started" = 1 ]; then
    # a cluster these scripts just installed or started: the dev password is expected
    { pg_installed && pg_set_password && pg_login_ok; } \
      || die "cannot log in to Postgres as postgres:postgres@$PG_HOST:$PG_PORT after starting it"
    return 0
  fi
  # a cluster that was already running: its password is not ours to change silently
  if [ -t 0 ] && pg_installed; then
    local answer=""
    printf '[services] Postgres on %s:%s refuses postgres:postgres. Set the password of its\n  postgres role to "postgres" (dev only; it replaces the current one)? [y/N] ' \
      "$PG_HOST" "$PG_PORT" >&2
    read -r answer || answer=""
    if [ "$answer" = y ] || [ "$answer" = Y ]; then
      pg_set_password && pg_login_ok && return 0
      die "the password was set but login as postgres:postgres still fails (check pg_hba.conf)"
    fi
  fi
  die "Postgres answers on $PG_HOST:$PG_PORT but login as postgres:postgres fails.
  The dev and test defaults expect it; nothing was changed. Either set that password
  (sudo -u postgres psql -c \"ALTER ROLE postgres PASSWORD 'postgres'\")
  or point DATABASE_URL (.env) / TEST_DATABASE_URL at a role that works."
}

# ---------- Redis ----------

redis_ready() {
  if have redis-cli; then
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 \
      && IFS= read -r reply <&3 && [[ $reply == +PONG* ]]' "$REDIS_HOST" "$REDIS_PORT"
  fi
}

redis_start() {
  log "starting Redis on $REDIS_HOST:$REDIS_PORT (no persistence)"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir "${TMPDIR:-/tmp}" >&2 \
    || die "redis-server failed to start"
}

ensure_redis() {
  if redis_ready; then
    log "Redis is reachable at $REDIS_HOST:$REDIS_PORT"
    return
  fi
  if port_open "$REDIS_HOST" "$REDIS_PORT"; then
    die "something listens on $REDIS_HOST:$REDIS_PORT but does not answer Redis PING"
  fi
  if ! have redis-server; then
    log "Redis is not installed"
    apt_install redis-server
  fi
  redis_ready || redis_start
  wait_for "Redis" "$REDIS_WAIT_SECS" redis_ready \
    || die "Redis does not answer PING on $REDIS_HOST:$REDIS_PORT after ${REDIS_WAIT_SECS}s"
}

ensure_postgres
ensure_redis

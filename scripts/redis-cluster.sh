#!/usr/bin/env bash
# A real Redis Cluster for the tests: three masters (`redis-server
# --cluster-enabled yes`, no replicas) on loopback ports, data in a temp dir.
# Idempotent: a cluster already up on those ports is reused; one that is
# half there (a node died, a node forgot the others) is rebuilt from scratch.
# Prints the REDIS_URL of the cluster (its nodes, comma-separated) on stdout.
#
#   scripts/redis-cluster.sh          start (or reuse), print the URL
#   scripts/redis-cluster.sh --stop   stop the nodes and remove their data
#
# REDIS_CLUSTER_PORTS (default "7101 7102 7103") picks the ports.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="redis-cluster"

read -r -a PORTS <<<"${REDIS_CLUSTER_PORTS:-7101 7102 7103}"
[ "${#PORTS[@]}" -ge 3 ] || die "REDIS_CLUSTER_PORTS: a cluster needs at least three masters"
DIR="${TMPDIR:-/tmp}/teamchat-redis-cluster-${PORTS[0]}"

have redis-server && have redis-cli || die "redis-server/redis-cli not found: run scripts/ensure-tools.sh --fault-deps"

cli() { # PORT ARGS...
  local port="$1"
  shift
  timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}

url() {
  local p out=()
  for p in "${PORTS[@]}"; do out+=("redis://127.0.0.1:$p"); done
  (IFS=,; echo "${out[*]}")
}

# Every node up, the cluster ok, and as many masters as ports.
cluster_ok() {
  local p info
  for p in "${PORTS[@]}"; do
    info="$(cli "$p" cluster info)" || return 1
    grep -q '^cluster_state:ok' <<<"$info" || return 1
    grep -q "^cluster_size:${#PORTS[@]}" <<<"$info" || return 1
  done
}

stop_all() {
  local p pidfile
  for p in "${PORTS[@]}"; do
    cli "$p" shutdown nosave >/dev/null || true
    pidfile="$DIR/$p/redis.pid"
    # a node that did not answer: stop the process we started, by its pid file
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  rm -rf "$DIR"
}

start_node() {
  local p="$1"
  [ "$(cli "$p" ping)" = "PONG" ] && return 0
  mkdir -p "$DIR/$p"
  redis-server --port "$p" --bind 127.0.0.1 --daemonize yes \
    --cluster-enabled yes --cluster-config-file "$DIR/$p/nodes.conf" \
    --cluster-node-timeout 5000 --save "" --appendonly no \
    --dir "$DIR/$p" --pidfile "$DIR/$p/redis.pid" --logfile "$DIR/$p/redis.log" \
    || die "redis-server on port $p failed to start (log: $DIR/$p/redis.log)"
}

wait_until() { # SECONDS CHECK...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

nodes_answer() {
  local p
  for p in "${PORTS[@]}"; do [ "$(cli "$p" ping)" = "PONG" ] || return 1; done
}

create() {
  local p nodes=()
  for p in "${PORTS[@]}"; do nodes+=("127.0.0.1:$p"); done
  for p in "${PORTS[@]}"; do start_node "$p"; done
  wait_until 10 nodes_answer || die "the cluster's nodes did not start (logs under $DIR)"
  timeout 30 redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 \
    || die "redis-cli --cluster create failed (see $DIR/create.log)"
}

if [ "${1:-}" = "--stop" ]; then
  stop_all
  log "stopped the cluster on ports ${PORTS[*]}"
  exit 0
fi

if cluster_ok; then
  log "reusing the cluster on ports ${PORTS[*]}"
else
  # restart nodes that died (they rejoin from their nodes.conf)
  if [ -d "$DIR" ]; then
    for p in "${PORTS[@]}"; do start_node "$p"; done
    wait_until 10 cluster_ok || true
  fi
  if ! cluster_ok; then
    for p in "${PORTS[@]}"; do
      if port_open 127.0.0.1 "$p" && [ ! -d "$DIR/$p" ]; then
        die "port $p is taken by a process this script did not start: set REDIS_CLUSTER_PORTS"
      fi
    done
    log "creating a ${#PORTS[@]}-master cluster on ports ${PORTS[*]} (data in $DIR)"
    stop_all
    create
  fi
  wait_until 20 cluster_ok || die "the cluster on ports ${PORTS[*]} is not ok (logs under $DIR)"
fi
url

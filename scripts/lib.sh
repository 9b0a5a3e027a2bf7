# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.
# Every function prints to stderr, so stdout stays free for real output.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# Node.js that ensure-tools.sh unpacks from the npm registry when the system
# one is too old for wrangler (Debian 12 ships Node 18; wrangler 4.86 needs >= 20.3).
LOCAL_NODE_DIR="$ROOT/.dev/tools/node"
NODE_MIN_VERSION="20.3.0"

# colours only on a terminal
if [ -t 2 ]; then
  _b=$'\033[1m' _y=$'\033[33m' _r=$'\033[31m' _n=$'\033[0m'
else
  _b='' _y='' _r='' _n=''
fi
log() { printf '%s[%s]%s %s\n' "$_b" "${LOG_TAG:-teamchat}" "$_n" "$*" >&2; }
warn() { printf '%s[%s] warning:%s %s\n' "$_y" "${LOG_TAG:-teamchat}" "$_n" "$*" >&2; }
die() {
  printf '%s[%s] error:%s %s\n' "$_r" "${LOG_TAG:-teamchat}" "$_n" "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# version_ge A B: true when dotted version A >= B.
version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# as_root CMD...: run as root, through sudo when we are not root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif have sudo; then
    sudo "$@"
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}

# apt_install PKG...: install Debian packages; `apt-get update` runs at most
# once an hour across all scripts (stamp in /tmp).
apt_install() {
  have apt-get || die "apt-get not found: install $* with your system's package manager, then re-run"
  local stamp
  stamp="${TMPDIR:-/tmp}/teamchat-apt-updated.$(id -u)"
  if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || die "apt-get update failed"
    touch "$stamp"
  fi
  log "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
}

# use_local_node: put the project's own Node.js first on PATH when it exists.
use_local_node() {
  local bin="$LOCAL_NODE_DIR/bin"
  if [ -x "$bin/node" ]; then
    case ":$PATH:" in
      *":$bin:"*) ;;
      *) PATH="$bin:$PATH" ;;
    esac
    export PATH
  fi
}

node_version() { node --version 2>/dev/null | sed 's/^v//'; }

node_ok() {
  have node && version_ge "$(node_version)" "$NODE_MIN_VERSION"
}

wasm_target_installed() {
  have rustup && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}

# wait_for DESCRIPTION SECONDS CMD...: poll CMD every half second.
wait_for() {
  local what="$1" secs="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.5
  done
  log "$what is ready"
}

use_local_node
# cargo installed by rustup but not on PATH yet (fresh login shells).
if ! have cargo && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
  export PATH
fi

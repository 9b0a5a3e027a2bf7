#!/usr/bin/env bash
# Install the build and test tools that are missing; print what it installs.
# Idempotent, and fast when everything is there.
#
# usage: scripts/ensure-tools.sh [--base] [--rust] [--wasm-target] [--worker] [--node] [--fault-deps] [--sqlx] [--browser] [--python] [--all]
#   --base         a C linker (gcc) and curl; checks that cargo exists
#   --rust         rustfmt and clippy (rustup components)
#   --wasm-target  the wasm32-unknown-unknown target
#   --worker       --wasm-target, worker-build 0.8.7 and wasm-bindgen-cli (the version in Cargo.lock)
#   --node         Node.js >= 20.3 with npm, then `npm ci` when node_modules is missing or stale
#   --fault-deps   redis-server and the Postgres server binaries (initdb, pg_ctl): core's
#                  fault tests run their own private instances to kill, freeze and crash
#   --sqlx         sqlx-cli (postgres, rustls), the version of sqlx in Cargo.lock
#   --browser      Debian's chromium (/usr/bin/chromium), which the browser demo's
#                  end-to-end test drives with playwright-core (an npm package, --node)
#   --python       a Python venv in .dev/python with the official python-socketio client,
#                  pinned in tests/e2e/python/requirements.txt (python3 with venv needed)
#   --all          all of the above (the default without flags)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=tools

WORKER_BUILD_VERSION="0.8.7"
WASM_BINDGEN_DEFAULT="0.2.130"
NODE_LOCAL_VERSION="20.20.2" # node-linux-<arch> on the npm registry, when the system node is too old

want_base=0 want_rust=0 want_wasm_target=0 want_worker=0 want_node=0 want_fault_deps=0 want_sqlx=0 want_browser=0 want_python=0
[ $# -eq 0 ] && set -- --all
for arg in "$@"; do
  case "$arg" in
    --base) want_base=1 ;;
    --rust) want_rust=1 ;;
    --wasm-target) want_wasm_target=1 ;;
    --worker) want_worker=1 ;;
    --node) want_node=1 ;;
    --fault-deps) want_fault_deps=1 ;;
    --sqlx) want_sqlx=1 ;;
    --browser) want_browser=1 ;;
    --python) want_python=1 ;;
    --all) want_base=1 want_rust=1 want_wasm_target=1 want_worker=1 want_node=1 want_fault_deps=1 want_sqlx=1 want_browser=1 want_python=1 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown flag: $arg (try --help)" ;;
  esac
done
[ "$want_worker" = 1 ] && want_wasm_target=1

installed=()

require_cargo() {
  have cargo || die "cargo is not installed. Install Rust with rustup (https://rustup.rs), open a new shell, and re-run.
  Debian's own cargo package is too old for this workspace."
}

require_rustup() {
  have rustup || die "rustup is needed to add $1; install Rust with rustup (https://rustup.rs)"
}

ensure_base() {
  require_cargo
  local pkgs=()
  have cc || pkgs+=(gcc libc6-dev)
  have curl || pkgs+=(curl ca-certificates)
  if [ ${#pkgs[@]} -gt 0 ]; then
    apt_install "${pkgs[@]}"
    installed+=("${pkgs[@]}")
  fi
}

ensure_rust_components() {
  require_cargo
  local missing=()
  cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
  if [ ${#missing[@]} -gt 0 ]; then
    require_rustup "${missing[*]}"
    log "rustup component add ${missing[*]}"
    rustup component add "${missing[@]}" >&2
    installed+=("${missing[@]}")
  fi
}

ensure_wasm_target() {
  if ! wasm_target_installed; then
    require_rustup "the wasm32-unknown-unknown target"
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown >&2
    installed+=(wasm32-unknown-unknown)
  fi
}

# version_of CMD: the first x.y.z its --version prints, or nothing.
version_of() {
  "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true
}

# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock exactly.
wasm_bindgen_version() {
  local v
  v="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock" 2>/dev/null || true)"
  echo "${v:-$WASM_BINDGEN_DEFAULT}"
}

ensure_worker_tools() {
  require_cargo
  if [ "$(version_of worker-build)" != "$WORKER_BUILD_VERSION" ]; then
    log "cargo install worker-build --version $WORKER_BUILD_VERSION --locked (about 7 minutes cold)"
    cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force >&2
    installed+=("worker-build@$WORKER_BUILD_VERSION")
  fi
  local wb
  wb="$(wasm_bindgen_version)"
  if [ "$(version_of wasm-bindgen)" != "$wb" ]; then
    # no --locked: one of its locked dependencies is missing from the registry mirror (TOOLCHAIN.md)
    log "cargo install wasm-bindgen-cli --version $wb (about 3 minutes cold)"
    cargo install wasm-bindgen-cli --version "$wb" --force >&2
    installed+=("wasm-bindgen-cli@$wb")
  fi
}

SQLX_DEFAULT="0.8.6"

# sqlx-cli must match the sqlx crate in Cargo.lock (the offline data format follows it).
sqlx_version() {
  local v
  v="$(awk '/^name = "sqlx"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock" 2>/dev/null || true)"
  echo "${v:-$SQLX_DEFAULT}"
}

ensure_sqlx_cli() {
  require_cargo
  local want have_v
  want="$(sqlx_version)"
  have_v="$(cargo sqlx --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
  if [ "$have_v" != "$want" ]; then
    log "cargo install sqlx-cli --version $want --locked --no-default-features --features postgres,rustls (about 4 minutes cold)"
    cargo install sqlx-cli --version "$want" --locked --no-default-features --features postgres,rustls --force >&2
    installed+=("sqlx-cli@$want")
  fi
}

# Node.js from the npm registry's node-linux-<arch> package: the binary ships
# inside the package, so this works where only package registries are reachable.
install_local_node() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Node.js >= $NODE_MIN_VERSION for $(uname -m): install one yourself" ;;
  esac
  log "installing Node.js $NODE_LOCAL_VERSION into .dev/tools/node (system node: $(node_version || echo none))"
  local stage="$ROOT/.dev/tools/node-stage"
  rm -rf "$stage"
  mkdir -p "$stage"
  npm install --prefix "$stage" --no-save --no-audit --no-fund --no-package-lock \
    "node-linux-$arch@$NODE_LOCAL_VERSION" >&2 \
    || die "npm could not install node-linux-$arch@$NODE_LOCAL_VERSION"
  rm -rf "$LOCAL_NODE_DIR"
  mv "$stage/node_modules/node-linux-$arch" "$LOCAL_NODE_DIR"
  rm -rf "$stage"
  chmod +x "$LOCAL_NODE_DIR/bin/node"
  use_local_node
  node_ok || die "the unpacked Node.js does not run: $LOCAL_NODE_DIR/bin/node"
  installed+=("node@$NODE_LOCAL_VERSION (.dev/tools/node)")
}

ensure_node() {
  if ! have node || ! have npm; then
    local pkgs=()
    have node || pkgs+=(nodejs)
    have npm || pkgs+=(npm)
    apt_install "${pkgs[@]}"
    installed+=("${pkgs[@]}")
  fi
  node_ok || install_local_node

  local lock="$ROOT/package-lock.json" marker="$ROOT/node_modules/.package-lock.json"
  if [ -f "$lock" ] && { [ ! -f "$marker" ] || [ "$lock" -nt "$marker" ] || [ "$ROOT/package.json" -nt "$marker" ]; }; then
    log "npm ci (wrangler, binaryen, esbuild, socket.io-client, ws, playwright-core)"
    (cd "$ROOT" && npm ci --no-audit --no-fund >&2) || die "npm ci failed"
    touch "$marker"
    installed+=("node_modules")
  fi
}

# core-api/tests/faults starts redis-server and a Postgres cluster (initdb +
# pg_ctl from /usr/lib/postgresql/*/bin) of its own on free ports, so it needs
# the binaries even when the shared services run elsewhere.
ensure_fault_deps() {
  local pkgs=()
  have redis-server || pkgs+=(redis-server)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || pkgs+=(postgresql)
  have runuser || pkgs+=(util-linux)
  if [ ${#pkgs[@]} -gt 0 ]; then
    apt_install "${pkgs[@]}"
    installed+=("${pkgs[@]}")
  fi
}

# Playwright's own browser download is not used (it fetches from outside the
# package registries): playwright-core drives the distribution's chromium.
ensure_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
    installed+=(chromium)
  fi
}

# The e2e test of the python-socketio client (tests/e2e/python/). Reinstalled
# when the pinned requirements change (their copy in the venv differs).
ensure_python() {
  local venv="$ROOT/.dev/python" req="$ROOT/tests/e2e/python/requirements.txt"
  if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv --help >/dev/null 2>&1; then
      apt_install python3 python3-venv
      installed+=(python3-venv)
    fi
    log "python3 -m venv .dev/python"
    python3 -m venv "$venv" >&2
  fi
  if ! cmp -s "$req" "$venv/requirements.txt"; then
    log "pip install -r tests/e2e/python/requirements.txt"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
    cp "$req" "$venv/requirements.txt"
    installed+=(python-socketio)
  fi
}

[ "$want_base" = 1 ] && ensure_base
[ "$want_rust" = 1 ] && ensure_rust_components
[ "$want_wasm_target" = 1 ] && ensure_wasm_target
[ "$want_worker" = 1 ] && ensure_worker_tools
[ "$want_node" = 1 ] && ensure_node
[ "$want_fault_deps" = 1 ] && ensure_fault_deps
[ "$want_sqlx" = 1 ] && ensure_sqlx_cli
[ "$want_browser" = 1 ] && ensure_browser
[ "$want_python" = 1 ] && ensure_python

if [ ${#installed[@]} -gt 0 ]; then
  log "installed: ${installed[*]}"
else
  log "all requested tools are present"
fi

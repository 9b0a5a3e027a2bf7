#!/usr/bin/env bash
# Build the edge Worker (edge-worker/build/) with worker-build, pointed at the
# local wasm-bindgen, wasm-opt (npm binaryen) and esbuild (npm) instead of
# downloads (see docs/development.md). Needs `ensure-tools.sh --worker --node`.
#
# usage: scripts/build-edge.sh [--dev]   (--dev: worker-build --dev, no wasm-opt; faster)
#
# EDGE_SKIP_BUILD=1 makes it a no-op while edge-worker/build/index.js exists:
# wrangler.toml's [build] runs this script (twice at start, in wrangler 4.86),
# so `make dev` and the e2e tests build once and then start wrangler with it set.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=edge-build

if [ "${EDGE_SKIP_BUILD:-0}" = 1 ] && [ -f "$ROOT/edge-worker/build/index.js" ]; then
  log "EDGE_SKIP_BUILD=1: using the existing edge-worker/build"
  exit 0
fi

mode=(--profile edge-release)
[ "${1:-}" = "--dev" ] && mode=(--dev)

esbuild="$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
[ "$(uname -m)" = aarch64 ] && esbuild="$ROOT/node_modules/@esbuild/linux-arm64/bin/esbuild"
[ -x "$esbuild" ] || die "esbuild not found at $esbuild: run scripts/ensure-tools.sh --node"
[ -x "$ROOT/node_modules/.bin/wasm-opt" ] || die "wasm-opt not found: run scripts/ensure-tools.sh --node"
have worker-build || die "worker-build not found: run scripts/ensure-tools.sh --worker"
have wasm-bindgen || die "wasm-bindgen not found: run scripts/ensure-tools.sh --worker"

log "worker-build ${mode[*]} (edge-worker)"
start=$SECONDS
(
  cd "$ROOT/edge-worker"
  WASM_BINDGEN_BIN=wasm-bindgen \
    WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt" \
    ESBUILD_BIN="$esbuild" \
    worker-build "${mode[@]}"
) >&2 || die "worker-build failed"
log "built edge-worker/build in $((SECONDS - start))s"

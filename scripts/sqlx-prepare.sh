#!/usr/bin/env bash
# The offline data of core's checked SQL (.sqlx/), against a scratch database:
#   scripts/sqlx-prepare.sh           refresh .sqlx/ after changing a query
#   scripts/sqlx-prepare.sh --check   fail when .sqlx/ is stale (make test runs this)
# Creates a scratch database on the Postgres of TEST_DATABASE_URL (default
# postgres://postgres:postgres@127.0.0.1:5432/postgres), applies migrations/,
# runs `cargo sqlx prepare --workspace [--check]` against it, and drops it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=sqlx
cd "$ROOT"

check=()
case "${1:-}" in
  "") ;;
  --check) check=(--check) ;;
  *) die "usage: scripts/sqlx-prepare.sh [--check]" ;;
esac
cargo sqlx --version >/dev/null 2>&1 || scripts/ensure-tools.sh --sqlx

admin="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
scratch="teamchat_sqlx_$$"
url="${admin%/*}/$scratch"
cleanup() { cargo sqlx database drop -y -D "$url" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

cargo sqlx database create -D "$url" || die "cannot create the scratch database $scratch"
cargo sqlx migrate run --source migrations -D "$url" >/dev/null || die "migrations failed on $scratch"
if cargo sqlx prepare --workspace "${check[@]}" -D "$url"; then
  [ ${#check[@]} -gt 0 ] && log ".sqlx/ matches the queries" || log ".sqlx/ refreshed: commit it with your query change"
else
  [ ${#check[@]} -gt 0 ] && die ".sqlx/ is stale: run scripts/sqlx-prepare.sh and commit .sqlx/"
  die "cargo sqlx prepare failed"
fi

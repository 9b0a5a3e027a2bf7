#!/usr/bin/env bash
# Message search at scale, full text against ILIKE on the same data in the same run:
#   scripts/bench-search.sh     (DURATION=20 seconds per workload, CLIENTS=8)
# In a scratch database (dropped at the end, also on failure) with core's
# migrations: 2,000 users, 1,000 group conversations of 100 members each,
# 1,000 messages per conversation (1,000,000 in all) of 4 to 15 words drawn
# from a 10,000-word vocabulary with a Zipf-like skew (word rank r is drawn
# with probability ~ 1/r, as in natural text). Then, with pgbench -M extended
# (planned with its values each time, as core runs the search statement) and
# CLIENTS clients, each query by a random user:
#   fts:   core's search statement (repositories/search.rs: the caller's
#          conversations, live messages, `search_tsv @@ 'word':*`, newest
#          first, 51 rows, ts_headline snippets for the page);
#   ilike: the same scope and page with `content ILIKE '%word%'`;
# each for two query mixes: `vocabulary` (any word of the vocabulary,
# uniformly: mostly rare words) and `frequent` (words drawn as often as they
# occur in the text: mostly common words). Prints p50/p95/p99 per workload
# and writes them into BENCHMARKS.md (between the bench-search markers).
# Not part of `make test`. Disk: about 1 GiB while it runs; the database is
# dropped at the end (KEEP_DB=1 keeps it, to study plans).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=bench-search
cd "$ROOT"
have pgbench || apt_install postgresql-contrib
have pgbench || die "pgbench is missing (Debian: postgresql-contrib, or postgresql-client-<major>)"
have psql || die "psql is missing (Debian: postgresql-client)"
DURATION=${DURATION:-20}
CLIENTS=${CLIENTS:-8}
USERS=2000 CONVERSATIONS=1000 MEMBERS=100 PER_CONVERSATION=1000 VOCABULARY=10000

PG_ADMIN="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
DB="teamchat_bench_search_$$"
URL="${PG_ADMIN%/*}/$DB"
WORK=$(mktemp -d)
cleanup() {
  if [ -n "${KEEP_DB:-}" ]; then
    log "KEEP_DB: $URL kept; drop it with: psql $PG_ADMIN -c 'DROP DATABASE $DB'"
  else
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
for f in migrations/*.sql; do
  psql "$URL" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null || die "migration $f failed"
done

log "generating $((CONVERSATIONS * PER_CONVERSATION)) messages (a few minutes)"
started=$(date +%s)
psql "$URL" -q -v ON_ERROR_STOP=1 <<SQL
-- word n of the vocabulary: 7 letters a..p, the same in every run
CREATE FUNCTION bench_word(n int) RETURNS text IMMUTABLE LANGUAGE sql
  AS \$\$ SELECT translate(substr(md5(n::text), 1, 7), '0123456789', 'ghijklmnop') \$\$;
CREATE FUNCTION bench_user(n int) RETURNS uuid IMMUTABLE LANGUAGE sql
  AS \$\$ SELECT md5('u' || n)::uuid \$\$;
INSERT INTO users (id, tms_user_id) SELECT bench_user(n), 'u' || n FROM generate_series(1, $USERS) n;
INSERT INTO conversations (id, kind, title, created_by, last_seq, last_message_at)
  SELECT md5('c' || c)::uuid, 'group', 'c' || c, bench_user(1), $PER_CONVERSATION, now()
  FROM generate_series(1, $CONVERSATIONS) c;
-- member k of conversation c: distinct for k < 100, each user in about 50 conversations
INSERT INTO conversation_members (conversation_id, user_id)
  SELECT md5('c' || c)::uuid, bench_user(1 + (c * 7 + k * 20) % $USERS)
  FROM generate_series(1, $CONVERSATIONS) c, generate_series(0, $MEMBERS - 1) k;
-- the search index is built after the load, as a restore would
DROP INDEX idx_messages_search;
SET maintenance_work_mem = '256MB';
INSERT INTO messages (id, conversation_id, seq, sender_id, kind, content, created_at)
  SELECT gen_random_uuid(), md5('c' || c)::uuid, s,
         bench_user(1 + (c * 7 + (s % $MEMBERS) * 20) % $USERS), 'text',
         (SELECT string_agg(bench_word(floor(power($VOCABULARY, random()))::int), ' ')
            FROM generate_series(1, 4 + (s + c) % 12)),
         now() - ($PER_CONVERSATION - s) * interval '1 minute' - c * interval '1 second'
  FROM generate_series(1, $CONVERSATIONS) c, generate_series(1, $PER_CONVERSATION) s;
CREATE INDEX idx_messages_search ON messages USING gin (search_tsv) WHERE deleted_at IS NULL;
VACUUM ANALYZE;
SQL
loaded=$(( $(date +%s) - started ))
messages=$(psql "$URL" -Atc "SELECT count(*) FROM messages")
size=$(psql "$URL" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")
index=$(psql "$URL" -Atc "SELECT pg_size_pretty(pg_relation_size('idx_messages_search'))")
log "$messages messages in ${loaded}s; database $size, search index $index"

# core's statement (repositories/search.rs), with the user and the word from pgbench
scope="m.conversation_id = ANY(ARRAY(SELECT cm.conversation_id FROM conversation_members cm WHERE cm.user_id = bench_user(:u)))"
cat > "$WORK/fts.sql" <<SQL
WITH hits AS (
  SELECT m.id, m.conversation_id, m.seq, m.sender_id AS sender_uuid, m.kind, m.content,
         m.created_at
    FROM messages m
   WHERE $scope AND m.deleted_at IS NULL
     AND m.search_tsv @@ to_tsquery('simple'::regconfig, '''' || bench_word(:w) || ''':*')
   ORDER BY m.created_at DESC, m.id DESC LIMIT 51)
SELECT h.id, u.tms_user_id,
       ts_headline('simple'::regconfig,
         replace(replace(replace(replace(replace(COALESCE(h.content, ''), '&', '&amp;'), '<', '&lt;'),
           '>', '&gt;'), '"', '&quot;'), '''', '&#39;'),
         to_tsquery('simple'::regconfig, '''' || bench_word(:w) || ''':*'),
         'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=12, ShortWord=0, MaxFragments=2, FragmentDelimiter=" … "')
  FROM hits h JOIN users u ON u.id = h.sender_uuid
 ORDER BY h.created_at DESC, h.id DESC;
SQL
cat > "$WORK/ilike.sql" <<SQL
SELECT m.id, m.content
  FROM messages m
 WHERE $scope AND m.deleted_at IS NULL AND m.content ILIKE '%' || bench_word(:w) || '%'
 ORDER BY m.created_at DESC, m.id DESC LIMIT 51;
SQL

declare -A P50 P95 P99 TPS
run() { # name script mix
  local name=$1 script=$2 mix=$3 dir="$WORK/$1"
  mkdir -p "$dir"
  {
    echo "\\set u random(1, $USERS)"
    if [ "$mix" = vocabulary ]; then
      echo "\\set w random(1, $VOCABULARY)"
    else
      # rank r with probability ~ 1/r, as the words were drawn
      echo "\\set w random_zipfian(1, $VOCABULARY, 1.001)"
    fi
    cat "$WORK/$script.sql"
  } > "$dir/script.sql"
  log "$name: pgbench -c $CLIENTS -T $DURATION -M extended"
  (cd "$dir" && pgbench -n -M extended -c "$CLIENTS" -j 2 -T "$DURATION" -l -f script.sql "$URL" > out.txt 2>&1) \
    || { cat "$dir/out.txt" >&2; die "pgbench failed for $name"; }
  # per-transaction logs: the third column is the latency in microseconds
  cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n > "$dir/lat"
  local n
  n=$(wc -l < "$dir/lat")
  pct() { awk -v n="$n" -v p="$1" 'NR == int(n * p / 100 + 0.999999) { printf "%.1f", $1 / 1000; exit }' "$dir/lat"; }
  P50[$name]=$(pct 50) P95[$name]=$(pct 95) P99[$name]=$(pct 99)
  TPS[$name]=$(awk -v n="$n" -v d="$DURATION" 'BEGIN { printf "%.0f", n / d }')
  log "$name: $n queries, p50 ${P50[$name]} ms, p95 ${P95[$name]} ms, p99 ${P99[$name]} ms"
}
load_at() { cut -d' ' -f1 /proc/loadavg; }
LOAD_BEFORE=$(load_at)
run fts-vocabulary fts vocabulary
run ilike-vocabulary ilike vocabulary
run fts-frequent fts frequent
run ilike-frequent ilike frequent
LOAD_AFTER=$(load_at)

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
pg=$(psql "$URL" -Atc "SHOW server_version")
cat > "$WORK/section.md" <<MD
<!-- bench-search:start -->
## Message search: full text against ILIKE (\`scripts/bench-search.sh\`)

One run, $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$commit\`, PostgreSQL $pg on this machine ($(nproc) CPUs; 1-minute load $LOAD_BEFORE before, $LOAD_AFTER after;
other work shared the CPUs). Data: $messages messages in $CONVERSATIONS group conversations of $MEMBERS members ($USERS users, each in about
50 conversations, so one search covers about 50,000 messages), 4 to 15 words each from a $VOCABULARY-word vocabulary drawn with a
Zipf-like skew; loaded in ${loaded}s; database $size, GIN index $index. Each query: a random user, one word (as a prefix, as core
matches the last word), the newest 51 hits of the user's conversations; $CLIENTS concurrent clients (\`pgbench -M extended\`: planned with its values, as core runs it), ${DURATION} s each.
*vocabulary*: any word of the vocabulary, uniformly (mostly rare words); *frequent*: words as often as they occur in the text (mostly common words).

| workload | query | queries/s | p50 | p95 | p99 |
|---|---|---:|---:|---:|---:|
| vocabulary | full text (core's statement, with snippets) | ${TPS[fts-vocabulary]} | ${P50[fts-vocabulary]} ms | ${P95[fts-vocabulary]} ms | ${P99[fts-vocabulary]} ms |
| vocabulary | \`ILIKE '%word%'\`, same scope and page | ${TPS[ilike-vocabulary]} | ${P50[ilike-vocabulary]} ms | ${P95[ilike-vocabulary]} ms | ${P99[ilike-vocabulary]} ms |
| frequent | full text (core's statement, with snippets) | ${TPS[fts-frequent]} | ${P50[fts-frequent]} ms | ${P95[fts-frequent]} ms | ${P99[fts-frequent]} ms |
| frequent | \`ILIKE '%word%'\`, same scope and page | ${TPS[ilike-frequent]} | ${P50[ilike-frequent]} ms | ${P95[ilike-frequent]} ms | ${P99[ilike-frequent]} ms |
<!-- bench-search:end -->
MD
section=$(cat "$WORK/section.md")
printf '%s\n' "$section"
if grep -q '<!-- bench-search:start -->' BENCHMARKS.md; then
  SECTION="$section" awk '
    /<!-- bench-search:start -->/ { print ENVIRON["SECTION"]; skip = 1; next }
    /<!-- bench-search:end -->/ { skip = 0; next }
    !skip' BENCHMARKS.md > "$WORK/BENCHMARKS.md"
  cp "$WORK/BENCHMARKS.md" BENCHMARKS.md
else
  printf '\n%s\n' "$section" >> BENCHMARKS.md
fi
log "written to BENCHMARKS.md"

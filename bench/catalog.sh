#!/usr/bin/env bash
# bench/catalog.sh — big catalogs at the cost of small ones (called by `make bench`).
# Builds, in one throwaway cluster, a synthetic database of BENCH_TABLES tables x 20
# columns over 5 schemas (a foreign-key chain across them, bench/schema_synth.sql) and
# the 5-table shop database, then reports medians over interleaved runs of:
#   cold      sparkgen schema --db DB --refresh --json >/dev/null (catalog query, cache
#             write, JSON), against psql running bench/catalog_independent.sql — a
#             catalog read written independently of sparkgen's — and against sparkgen
#             with its session tuning undone (PGOPTIONS="-c jit=on -c work_mem=4MB")
#   warm      sparkgen schema TABLE, a second process on the cached snapshot
#   generate  a response-cache hit of `sparkgen generate` (the whole process) at 5 and
#             at BENCH_TABLES tables: the same request shape, the snapshot cached
#   for       sparkgen schema --for "refunds per week" --table TABLE at BENCH_TABLES
# and the peak RSS of a cold run. Each figure is printed with its ratio; a failed run or
# a missed target fails the bench. BENCH_BASELINE=/path/to/another/sparkgen (main's
# build, say) times the two cache-hit generates with that binary too, interleaved with
# this one's (its own history file, the same caches), and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
SPARKGEN=${SPARKGEN:-$PWD/sparkgen}
TABLES=${BENCH_TABLES:-10000}
RUNS=${BENCH_RUNS:-5}
WARM_RUNS=${BENCH_WARM_RUNS:-21}
BASELINE=${BENCH_BASELINE:-}

if ! tests/lib/pg.sh available; then
  echo "catalog bench: FAILED (no PostgreSQL server binaries; apt-get install postgresql)"
  exit 1
fi

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-bench.XXXXXX")
chmod 755 "$TEST_TMP"
export TEST_TMP XDG_CACHE_HOME="$TEST_TMP/cache" XDG_CONFIG_HOME="$TEST_TMP/config" XDG_DATA_HOME="$TEST_TMP/data"
unset DATABASE_URL PGHOST PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS SPARKGEN_DB
MOCK_PID=
trap '[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; tests/lib/pg.sh stop-all >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT

now_ns() { date +%s%N; }
. bench/lib.sh
# Failures are recorded in a file: most checks run inside $(...) subshells.
fail() { echo "catalog bench: $*" >&2; echo "$*" >>"$TEST_TMP/failures"; }
# run_us CMD...: the command's wall time in microseconds (its output discarded); a
# failing command fails the bench.
run_us() {
  local t0 t1
  t0=$(now_ns)
  if ! "$@" >/dev/null 2>"$TEST_TMP/err"; then fail "failed: $* ($(tail -1 "$TEST_TMP/err"))"; fi
  t1=$(now_ns)
  echo $(( (t1 - t0) / 1000 ))
}
ms() { printf '%s\n' "$@" | median | awk '{printf "%.2f", $1 / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { if awk "BEGIN {exit !($1)}"; then echo ok; else echo "missed: $1" >>"$TEST_TMP/failures"; echo MISSED; fi; }

echo "catalog bench: building a synthetic catalog of $TABLES tables x 20 columns ..."
t0=$(now_ns)
BIG=$(tests/lib/pg.sh db bench_schema)
psql -X -q -v ON_ERROR_STOP=1 -v ntables="$TABLES" "$BIG" -f bench/schema_synth.sql
psql -X -q "$BIG" -c ANALYZE
SHOP=$(tests/lib/pg.sh db shop examples/shop/schema.sql)
echo "  built in $(( ($(now_ns) - t0) / 1000000 )) ms"
TABLE="s$(( 1 + (TABLES / 2) % 5 )).t$(( TABLES / 2 ))"

# The mock model answers the two requests once; every timed generate is a cache hit.
python3 tests/mock/anthropic_mock.py --port 0 >"$TEST_TMP/mock.out" 2>/dev/null &
MOCK_PID=$!
for _ in $(seq 100); do grep -q '^PORT' "$TEST_TMP/mock.out" 2>/dev/null && break; sleep 0.05; done
MOCK="http://127.0.0.1:$(awk '/^PORT/ {print $2}' "$TEST_TMP/mock.out")"
export ANTHROPIC_API_KEY=sk-bench-not-a-real-key ANTHROPIC_BASE_URL=$MOCK
reply() {  # reply TABLE: an answer that reads TABLE and passes every check
  printf '{"reply": {"code": "t = read_table(\\"%s\\")\\nresult_df = t.groupBy(\\"day\\").agg(F.sum(\\"amount\\").alias(\\"refunded\\"))\\n", "description": "Refunded amount per day.", "tables_used": ["%s"], "estimated_complexity": "low", "validation_checks": [{"rule": "non_empty"}]}}' "$1" "$1"
}
curl -s -X POST "$MOCK/__mock/script" -H 'content-type: application/json' \
  -d "[$(reply orders_day), $(reply "$TABLE")]" >/dev/null
requests() { curl -s "$MOCK/__mock/requests" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }

# The shop database has no orders_day table with day/amount columns: the 5-table arm
# asks about a view of the same shape instead.
psql -X -q "$SHOP" -c "CREATE VIEW orders_day AS SELECT order_date::date AS day, total_amount AS amount FROM orders" \
  2>/dev/null || true
GEN_SMALL=("$SPARKGEN" generate orders_day "refunds per week" --db "$SHOP" --json)
GEN_BIG=("$SPARKGEN" generate "$TABLE" "refunds per week" --db "$BIG" --json)
FOR_BIG=("$SPARKGEN" schema --db "$BIG" --for "refunds per week" --table "$TABLE")
COLD=("$SPARKGEN" schema --db "$BIG" --refresh --json)

cold=() anchor=() untuned=() rss=()
for i in $(seq "$RUNS"); do
  # Interleaved, so every arm sees the same machine load.
  anchor+=("$(run_us env PGOPTIONS="-c jit=off" psql -X -q -A -t "$BIG" -f bench/catalog_independent.sql)")
  cold+=("$(run_us "${COLD[@]}")")
  untuned+=("$(run_us env PGOPTIONS="-c jit=on -c work_mem=4MB" "${COLD[@]}")")
  /usr/bin/time -f "%M" -o "$TEST_TMP/rss" "${COLD[@]}" >/dev/null 2>&1 || fail "cold snapshot failed"
  rss+=("$(tail -1 "$TEST_TMP/rss")")
done

# Fill: the snapshots (and the foreign keys the selection reads) and the response cache.
"${GEN_SMALL[@]}" >"$TEST_TMP/gen_small.json" || fail "generate at 5 tables failed: $(head -c 300 "$TEST_TMP/gen_small.json")"
"${GEN_BIG[@]}" >"$TEST_TMP/gen_big.json" || fail "generate at $TABLES tables failed: $(head -c 300 "$TEST_TMP/gen_big.json")"
"${FOR_BIG[@]}" >/dev/null || fail "schema --for failed"
if [ -n "$BASELINE" ]; then
  BASE_SMALL=(env XDG_DATA_HOME="$TEST_TMP/data-baseline" "$BASELINE" "${GEN_SMALL[@]:1}")
  BASE_BIG=(env XDG_DATA_HOME="$TEST_TMP/data-baseline" "$BASELINE" "${GEN_BIG[@]:1}")
  grep -q '"cached": true' <("${BASE_SMALL[@]}") || fail "the baseline's 5-table generate is not a cache hit (another prompt?)"
  grep -q '"cached": true' <("${BASE_BIG[@]}") || fail "the baseline's $TABLES-table generate is not a cache hit (another prompt?)"
fi
before=$(requests)
warm=() floor=() gen_small=() gen_big=() for_big=() base_small=() base_big=()
for i in $(seq "$WARM_RUNS"); do
  floor+=("$(run_us "$SPARKGEN" --version)")
  warm+=("$(run_us "$SPARKGEN" schema --db "$BIG" "$TABLE")")
  gen_small+=("$(run_us "${GEN_SMALL[@]}")")
  gen_big+=("$(run_us "${GEN_BIG[@]}")")
  for_big+=("$(run_us "${FOR_BIG[@]}")")
  if [ -n "$BASELINE" ]; then
    base_small+=("$(run_us "${BASE_SMALL[@]}")")
    base_big+=("$(run_us "${BASE_BIG[@]}")")
  fi
done
after=$(requests)
[ "$before" = "$after" ] || fail "$((after - before)) model requests during the timed cache hits"
grep -q '"cached": true' <("${GEN_BIG[@]}") || fail "the generate at $TABLES tables was not a cache hit"

cold_ms=$(ms "${cold[@]}"); anchor_ms=$(ms "${anchor[@]}"); untuned_ms=$(ms "${untuned[@]}")
warm_ms=$(ms "${warm[@]}"); floor_ms=$(ms "${floor[@]}")
gs_ms=$(ms "${gen_small[@]}"); gb_ms=$(ms "${gen_big[@]}"); for_ms=$(ms "${for_big[@]}")
rss_mb=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')

echo "catalog bench: $TABLES tables x 20 columns, medians of $RUNS runs (cache hits: $WARM_RUNS), $(nproc) cores"
printf '  %-58s %9s ms\n' "psql, independent catalog query (anchor)" "$anchor_ms"
printf '  %-58s %9s ms\n' "cold snapshot: sparkgen schema --refresh --json" "$cold_ms"
printf '  %-58s %9s     target <= 1.3  %s\n' "  cold / anchor" "$(ratio "$cold_ms" "$anchor_ms")" "$(verdict "$cold_ms <= 1.3 * $anchor_ms")"
printf '  %-58s %9s ms  (%s x the tuned session)\n' "cold, session tuning undone (jit on, work_mem 4MB)" "$untuned_ms" "$(ratio "$untuned_ms" "$cold_ms")"
printf '  %-58s %9s MB  target < 100   %s\n' "peak RSS of a cold snapshot (max of runs)" "$rss_mb" "$(verdict "$rss_mb < 100")"
printf '  %-58s %9s ms\n' "sparkgen --version (process floor)" "$floor_ms"
printf '  %-58s %9s ms  (%s x floor)\n' "warm: sparkgen schema $TABLE" "$warm_ms" "$(ratio "$warm_ms" "$floor_ms")"
printf '  %-58s %9s ms  (%s x floor)\n' "generate, cache hit, 5 tables" "$gs_ms" "$(ratio "$gs_ms" "$floor_ms")"
printf '  %-58s %9s ms  target <= 10   %s\n' "generate, cache hit, $TABLES tables" "$gb_ms" "$(verdict "$gb_ms <= 10")"
printf '  %-58s %9s     (%s tables / 5 tables)\n' "  $TABLES / 5 tables" "$(ratio "$gb_ms" "$gs_ms")" "$TABLES"
printf '  %-58s %9s ms  target <= 20   %s\n' "schema --for \"refunds per week\", $TABLES tables" "$for_ms" "$(verdict "$for_ms <= 20")"
if [ -n "$BASELINE" ]; then
  bs_ms=$(ms "${base_small[@]}"); bb_ms=$(ms "${base_big[@]}")
  printf '  %-58s %9s ms  (this build: %s x)\n' "baseline generate, cache hit, 5 tables" "$bs_ms" "$(ratio "$gs_ms" "$bs_ms")"
  printf '  %-58s %9s ms  (this build: %s x)\n' "baseline generate, cache hit, $TABLES tables" "$bb_ms" "$(ratio "$gb_ms" "$bb_ms")"
fi
if [ -s "$TEST_TMP/failures" ]; then
  echo "catalog bench: $(wc -l <"$TEST_TMP/failures") failure(s) or missed target(s)"
  exit 1
fi

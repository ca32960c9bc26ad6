#!/usr/bin/env bash
# bench/schema.sh — how fast sparkgen reads a big PostgreSQL catalog (called by
# `make bench`). Builds a synthetic database (BENCH_TABLES tables x 20 columns over 5
# schemas, a foreign-key chain across them) in a throwaway cluster, then reports medians
# over BENCH_RUNS runs of:
#   cold   sparkgen schema --refresh --json >/dev/null   (catalog query + cache write + JSON)
#   psql   psql running the same catalog query alone      (the floor: the server's work)
#   warm   sparkgen schema TABLE                          (a second process, cache hit)
# and the peak RSS of a cold run. Targets: cold/psql <= 1.5, warm < 5 ms, RSS < 100 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
SPARKGEN=${SPARKGEN:-$PWD/sparkgen}
TABLES=${BENCH_TABLES:-10000}
RUNS=${BENCH_RUNS:-5}
WARM_RUNS=${BENCH_WARM_RUNS:-21}

if ! tests/lib/pg.sh available; then
  echo "schema bench: skipped (no PostgreSQL server binaries; apt-get install postgresql)"
  exit 0
fi

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-bench.XXXXXX")
chmod 755 "$TEST_TMP"
export TEST_TMP XDG_CACHE_HOME="$TEST_TMP/cache" XDG_CONFIG_HOME="$TEST_TMP/config"
unset DATABASE_URL PGHOST PGDATABASE PGUSER PGPASSWORD PGSERVICE SPARKGEN_DB
trap 'tests/lib/pg.sh stop-all >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT

now_ns() { date +%s%N; }
. bench/lib.sh

echo "schema bench: building a synthetic catalog of $TABLES tables x 20 columns ..."
t0=$(now_ns)
CONNINFO=$(tests/lib/pg.sh db bench_schema)
psql -X -q -v ON_ERROR_STOP=1 -v ntables="$TABLES" "$CONNINFO" -f bench/schema_synth.sql
psql -X -q "$CONNINFO" -c ANALYZE
echo "  built in $(( ($(now_ns) - t0) / 1000000 )) ms"

# The exact query sparkgen runs, with its one parameter (the schema list) set to NULL.
QUERY=$("$SPARKGEN" schema --print-catalog-query | sed 's/\$1::text\[\]/NULL::text[]/g')

cold=() psqlt=() rss=()
for i in $(seq "$RUNS"); do
  # Interleaved, so both see the same machine load.
  t0=$(now_ns)
  psql -X -q -A -t "$CONNINFO" -c "$QUERY" >/dev/null
  psqlt+=($(( ($(now_ns) - t0) / 1000 )))
  t0=$(now_ns)
  /usr/bin/time -f "%M" -o "$TEST_TMP/rss" "$SPARKGEN" schema --db "$CONNINFO" --refresh --json >/dev/null
  cold+=($(( ($(now_ns) - t0) / 1000 )))
  rss+=("$(tail -1 "$TEST_TMP/rss")")
done

# Warm: a table in the middle of the catalog; the first call fetches and caches its
# foreign keys (on demand, once), every later process reads only the cache.
TABLE="s$(( 1 + (TABLES / 2) % 5 )).t$(( TABLES / 2 ))"
"$SPARKGEN" schema --db "$CONNINFO" "$TABLE" >/dev/null
warm=() floor=()
for i in $(seq "$WARM_RUNS"); do
  t0=$(now_ns)
  "$SPARKGEN" schema --db "$CONNINFO" "$TABLE" >/dev/null
  warm+=($(( ($(now_ns) - t0) / 1000 )))
  # The process floor: start-up and argument parsing with no schema work at all.
  t0=$(now_ns)
  "$SPARKGEN" --version >/dev/null
  floor+=($(( ($(now_ns) - t0) / 1000 )))
done

cold_ms=$(printf '%s\n' "${cold[@]}" | median | awk '{printf "%.0f", $1 / 1000}')
psql_ms=$(printf '%s\n' "${psqlt[@]}" | median | awk '{printf "%.0f", $1 / 1000}')
warm_ms=$(printf '%s\n' "${warm[@]}" | median | awk '{printf "%.2f", $1 / 1000}')
floor_ms=$(printf '%s\n' "${floor[@]}" | median | awk '{printf "%.2f", $1 / 1000}')
rss_mb=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')
ratio=$(awk -v a="$cold_ms" -v b="$psql_ms" 'BEGIN {printf "%.2f", a / b}')
verdict() { if awk "BEGIN {exit !($1)}"; then echo ok; else echo MISSED; fi; }

echo "schema bench: $TABLES tables x 20 columns, medians of $RUNS runs (warm: $WARM_RUNS), $(nproc) cores"
printf '  %-44s %10s ms\n' "psql, catalog query alone" "$psql_ms"
printf '  %-44s %10s ms\n' "sparkgen schema --refresh --json (cold)" "$cold_ms"
printf '  %-44s %10s     target <= 1.5  %s\n' "cold / psql" "$ratio" "$(verdict "$ratio <= 1.5")"
printf '  %-44s %10s ms  target < 5     %s\n' "sparkgen schema $TABLE (warm, whole process)" "$warm_ms" "$(verdict "$warm_ms < 5")"
printf '  %-44s %10s ms  (start-up floor, no schema work)\n' "sparkgen --version" "$floor_ms"
printf '  %-44s %10s MB  target < 100   %s\n' "peak RSS, cold run (max of runs)" "$rss_mb" "$(verdict "$rss_mb < 100")"

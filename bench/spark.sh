#!/usr/bin/env bash
# bench/spark.sh — from request to rows on real Spark (called by `make bench`):
#   1. `sparkgen exec` of a cached/template request: the whole process, spark-submit
#      included (dominated by JVM and session start-up), median of BENCH_SPARK_RUNS;
#   2. the eval suite's wall time: N cases in ONE shared Spark session (sparkgen eval)
#      vs. the same N cases as one spark-submit each, in the same invocation.
# Needs `make spark` (pyspark in .venv) and Java; skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
SPARKGEN=${SPARKGEN:-$PWD/sparkgen}
RUNS=${BENCH_SPARK_RUNS:-3}
# eval case name, and the same request for `sparkgen exec` (source type [context])
CASES=(type_revenue_by_category_all type_top_customers_30d type_daily_sales_7d
       type_customer_lifetime_value type_ticket_resolution_90d)
EXEC=("orders revenue_by_category --context time_period=all"
      "orders top_customers --context time_period=last_30_days --context limit=5"
      "orders daily_sales --context time_period=last_7_days"
      "customers customer_lifetime_value"
      "support_tickets ticket_resolution_time --context time_period=last_90_days")

if [ ! -x .venv/bin/spark-submit ] || ! command -v java >/dev/null || ! tests/lib/pg.sh available; then
  echo "spark bench: skipped (needs 'make spark', java and PostgreSQL server binaries)"
  exit 0
fi
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-bench.XXXXXX")
chmod 755 "$TEST_TMP"
export TEST_TMP XDG_CACHE_HOME="$TEST_TMP/cache" XDG_CONFIG_HOME="$TEST_TMP/config"
export PATH="$PWD/.venv/bin:$PATH" SPARK_LOCAL_IP=127.0.0.1 TZ=UTC
unset DATABASE_URL PGHOST PGDATABASE PGUSER PGPASSWORD PGSERVICE SPARKGEN_DB ANTHROPIC_API_KEY
trap 'tests/lib/pg.sh stop-all >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
. bench/lib.sh

DB=$(tests/lib/pg.sh db shop examples/shop/schema.sql)
echo "spark bench: warming up (Ivy resolves the JDBC driver once) ..."
"$SPARKGEN" exec orders revenue_by_category --db "$DB" --context time_period=all --json >/dev/null 2>&1

exec_ms=()
for i in $(seq "$RUNS"); do
  t0=$(now_ms)
  "$SPARKGEN" exec orders revenue_by_category --db "$DB" --context time_period=all --json >/dev/null 2>&1
  exec_ms+=($(( $(now_ms) - t0 )))
done

case_args=()
for c in "${CASES[@]}"; do case_args+=(--case "$c"); done
t0=$(now_ms)
"$SPARKGEN" eval examples/eval/shop.lua --replay examples/eval/replay --db "$DB" "${case_args[@]}" \
  >/dev/null 2>&1 || true
shared_ms=$(( $(now_ms) - t0 ))

t0=$(now_ms)
for request in "${EXEC[@]}"; do
  # one spark-submit per case: the same requests through `sparkgen exec`
  # shellcheck disable=SC2086 # the request is words on purpose
  "$SPARKGEN" exec $request --db "$DB" --json >/dev/null 2>&1 || true
done
per_case_ms=$(( $(now_ms) - t0 ))

m=$(printf '%s\n' "${exec_ms[@]}" | median)
printf 'request to rows, sparkgen exec (template, whole process): median %s ms over %d runs (%s)\n' \
  "$m" "$RUNS" "${exec_ms[*]}"
printf 'eval, %d cases: one shared session %d ms; one spark-submit per case %d ms; ratio %.2fx\n' \
  "${#CASES[@]}" "$shared_ms" "$per_case_ms" "$(echo "$per_case_ms $shared_ms" | awk '{print $1 / $2}')"

#!/usr/bin/env bash
# bench/spark.sh — from request to rows on real Spark (called by `make bench`):
#   1. `sparkgen exec` of a template request: the whole process, spark-submit
#      included (dominated by JVM and session start-up), median of BENCH_SPARK_RUNS,
#      against what one case costs inside a shared session;
#   2. the eval suite's wall time: N cases in ONE shared Spark session (sparkgen eval)
#      against the same N requests as one spark-submit each, in the same invocation.
# Every request pins as_of to the date the shop data and the eval suite are written for,
# so each case has rows and its checks mean something. A failed case (a job that fails,
# a check that fails, an eval case that does not pass) fails the bench.
# Needs `make spark` (pyspark in .venv), Java and PostgreSQL; a missing one fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
SPARKGEN=${SPARKGEN:-$PWD/sparkgen}
RUNS=${BENCH_SPARK_RUNS:-3}
AS_OF=2026-11-15 # examples/eval/shop.lua's as_of
# eval case name, and the same request for `sparkgen exec` (source type [context])
CASES=(type_revenue_by_category_all type_top_customers_30d type_daily_sales_7d
       type_customer_lifetime_value type_ticket_resolution_90d)
EXEC=("orders revenue_by_category --context time_period=all"
      "orders top_customers --context time_period=last_30_days --context limit=5"
      "orders daily_sales --context time_period=last_7_days"
      "customers customer_lifetime_value"
      "support_tickets ticket_resolution_time --context time_period=last_90_days")

if [ ! -x .venv/bin/spark-submit ] || ! command -v java >/dev/null || ! tests/lib/pg.sh available; then
  echo "spark bench: FAILED (needs 'make spark', java and PostgreSQL server binaries)"
  exit 1
fi
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-bench.XXXXXX")
chmod 755 "$TEST_TMP"
export TEST_TMP XDG_CACHE_HOME="$TEST_TMP/cache" XDG_CONFIG_HOME="$TEST_TMP/config" XDG_DATA_HOME="$TEST_TMP/data"
export PATH="$PWD/.venv/bin:$PATH" SPARK_LOCAL_IP=127.0.0.1 TZ=UTC
unset DATABASE_URL PGHOST PGDATABASE PGUSER PGPASSWORD PGSERVICE SPARKGEN_DB ANTHROPIC_API_KEY
trap 'tests/lib/pg.sh stop-all >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
. bench/lib.sh
failed=0
# run LABEL CMD...: run a case; its failure (any non-zero status) fails the bench.
run() {
  local label=$1; shift
  if ! "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; then
    echo "spark bench: $label failed: $(grep -v '^\s*$' "$TEST_TMP/err" | tail -1)" >&2
    failed=$((failed + 1))
  fi
}

DB=$(tests/lib/pg.sh db shop examples/shop/schema.sql)
echo "spark bench: warming up (Ivy resolves the JDBC driver once) ..."
run warm-up "$SPARKGEN" exec orders revenue_by_category --db "$DB" --context time_period=all --context as_of=$AS_OF --json

exec_ms=()
for i in $(seq "$RUNS"); do
  t0=$(now_ms)
  run "exec (run $i)" "$SPARKGEN" exec orders revenue_by_category --db "$DB" --context time_period=all \
    --context as_of=$AS_OF --json
  exec_ms+=($(( $(now_ms) - t0 )))
done

case_args=()
for c in "${CASES[@]}"; do case_args+=(--case "$c"); done
t0=$(now_ms)
run "eval (shared session)" "$SPARKGEN" eval examples/eval/shop.lua --replay examples/eval/replay --db "$DB" "${case_args[@]}"
shared_ms=$(( $(now_ms) - t0 ))

t0=$(now_ms)
for request in "${EXEC[@]}"; do
  # one spark-submit per case: the same requests through `sparkgen exec`
  # shellcheck disable=SC2086 # the request is words on purpose
  run "exec $request" "$SPARKGEN" exec $request --context as_of=$AS_OF --db "$DB" --json
done
per_case_ms=$(( $(now_ms) - t0 ))

m=$(printf '%s\n' "${exec_ms[@]}" | median)
per_shared=$(( shared_ms / ${#CASES[@]} ))
echo "spark bench: medians of $RUNS runs, $(nproc) cores"
printf '  %-58s %9s ms\n' "request to rows: sparkgen exec (template, whole process)" "$m"
printf '  %-58s %9s ms  (%s x a case in a shared session)\n' "  a case inside one shared session (eval below, per case)" \
  "$per_shared" "$(awk -v a="$m" -v b="$per_shared" 'BEGIN {printf "%.2f", a / b}')"
printf '  %-58s %9s ms\n' "eval, ${#CASES[@]} cases, one shared Spark session" "$shared_ms"
printf '  %-58s %9s ms\n' "the same ${#CASES[@]} requests, one spark-submit each" "$per_case_ms"
printf '  %-58s %9s x faster\n' "  one spark-submit each / shared session" \
  "$(awk -v a="$per_case_ms" -v b="$shared_ms" 'BEGIN {printf "%.2f", a / b}')"
if [ "$failed" -gt 0 ]; then echo "spark bench: $failed case(s) failed"; exit 1; fi

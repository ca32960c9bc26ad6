#!/usr/bin/env bash
# bench/plancheck.sh — the plan check (called by `make bench`):
#   1. its cost per candidate, first and warm, against lint in the same process
#      (bench/plancheck_bench.lua);
#   2. eval's wall time on five cases with the plan check (eval's default) and without
#      (--no-plan-check), in the same invocation.
# Needs `make spark` and Java (and PostgreSQL server binaries for 2); skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
SPARKGEN=${SPARKGEN:-$PWD/sparkgen}
RUNS=${BENCH_PLAN_RUNS:-10}
CASES=(customers_without_orders orders_per_month_2025 top_category_per_month
       repeat_customer_share month_over_month_2026)
if [ ! -x .venv/bin/spark-submit ] || ! command -v java >/dev/null; then
  echo "plan check bench: skipped (needs 'make spark' and java)"
  exit 0
fi
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-bench.XXXXXX")
chmod 755 "$TEST_TMP"
export TEST_TMP XDG_CACHE_HOME="$TEST_TMP/cache" XDG_CONFIG_HOME="$TEST_TMP/config" XDG_DATA_HOME="$TEST_TMP/data"
export SPARK_LOCAL_IP=127.0.0.1 TZ=UTC
unset DATABASE_URL PGHOST PGDATABASE PGUSER PGPASSWORD PGSERVICE SPARKGEN_DB ANTHROPIC_API_KEY
trap 'tests/lib/pg.sh stop-all >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$SPARKGEN" run bench/plancheck_bench.lua examples/shop/schema.json "$RUNS"

tests/lib/pg.sh available || { echo "eval with/without the plan check: skipped (no PostgreSQL server binaries)"; exit 0; }
DB=$(tests/lib/pg.sh db shop examples/shop/schema.sql)
case_args=()
for c in "${CASES[@]}"; do case_args+=(--case "$c"); done
run_eval() {
  local t0; t0=$(now_ms)
  "$SPARKGEN" eval examples/eval/shop.lua --replay examples/eval/replay --db "$DB" "${case_args[@]}" "$@" \
    >/dev/null 2>&1 || true
  echo $(( $(now_ms) - t0 ))
}
run_eval --no-plan-check >/dev/null   # warm-up: Ivy resolves the JDBC driver once
without=$(run_eval --no-plan-check)
with=$(run_eval)
printf 'eval, %d model cases: with the plan check %d ms, without %d ms: %.2fx\n' \
  "${#CASES[@]}" "$with" "$without" "$(echo "$with $without" | awk '{print $1 / $2}')"

#!/usr/bin/env bash
# bench/batch.sh — the real `sparkgen batch`, end to end, against the mock model (called
# by `make bench`): throughput at the model's pace against the ideal and curl, CPU per
# request (all processes and sparkgen's own), peak memory. See bench/batch_bench.lua.
# Usage: bench/batch.sh [runs]   (default $BENCH_RUNS or 3; the report gives medians)
set -eu
cd "$(dirname "$0")/.."
: "${SPARKGEN:=$PWD/sparkgen}"
command -v curl >/dev/null || { echo "batch bench: FAILED (curl is needed for the baseline)"; exit 1; }
exec "$SPARKGEN" run --trusted bench/batch_bench.lua "${1:-${BENCH_RUNS:-3}}"

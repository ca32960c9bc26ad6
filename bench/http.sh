#!/usr/bin/env bash
# bench/http.sh — the HTTP client benchmark (batch throughput against a 200 ms mock,
# per-request overhead against an instant one), called by `make bench`.
# Usage: bench/http.sh [runs]   (default $BENCH_RUNS or 5; the report gives medians)
set -eu
cd "$(dirname "$0")/.."
: "${SPARKGEN:=$PWD/sparkgen}"
exec "$SPARKGEN" run --trusted bench/http_bench.lua "${1:-${BENCH_RUNS:-5}}"

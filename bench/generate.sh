#!/usr/bin/env bash
# bench/generate.sh — a response-cache hit through the whole `sparkgen generate` process.
set -eu
cd "$(dirname "$0")/.."
: "${SPARKGEN:=$PWD/sparkgen}"
export SPARKGEN
exec "$SPARKGEN" run --trusted bench/generate_bench.lua "${1:-${BENCH_RUNS:-21}}"

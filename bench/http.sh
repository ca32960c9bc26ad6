#!/usr/bin/env bash
# bench/http.sh — the HTTP client benchmark (batch throughput against a 200 ms mock,
# per-request overhead against an instant one). Usage: bench/http.sh [runs] (default 5).
set -eu
cd "$(dirname "$0")/.."
: "${SPARKGEN:=$PWD/sparkgen}"
exec "$SPARKGEN" run bench/http_bench.lua "${1:-5}"

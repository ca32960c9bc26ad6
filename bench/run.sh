#!/usr/bin/env bash
# bench/run.sh — `make bench`: every benchmark in turn (not part of `make test`).
# Each prints medians over several runs and ratios against a baseline measured in the
# same invocation, so a comparison holds when the machine's speed drifts.
set -u
cd "$(dirname "$0")/.."
status=0
for b in bench/schema.sh bench/http.sh bench/generate.sh bench/spark.sh; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b" || status=1
  echo
done
exit $status

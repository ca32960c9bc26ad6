#!/usr/bin/env bash
# bench/run.sh — `make bench`: every benchmark in turn (not part of `make test`).
# Each measures what users run, end to end, prints medians over several runs and each
# figure's ratio to an anchor measured in the same invocation (the ideal, curl, psql, the
# process floor), so a comparison holds when the machine's speed drifts. A failed run or
# a missed target makes the whole bench fail.
set -u
cd "$(dirname "$0")/.."
status=0
for b in bench/batch.sh bench/catalog.sh bench/spark.sh bench/plancheck.sh; do
  echo "== $b"
  "$b" || status=1
  echo
done
exit $status

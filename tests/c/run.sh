#!/usr/bin/env bash
# tests/c/run.sh — C-level tests: each tests/c/test_*.c is built against the primitive
# it tests and prints TAP.
set -u
cd "$(dirname "$0")/../.."
out="${TEST_TMP:-/tmp}/ctests"
mkdir -p "$out"
status=0
for src in tests/c/test_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  if ! make -s -f tests/c/Makefile "BIN=$out/$name" "TEST_SRC=$src" "SANITIZE=${SANITIZE:-}" >"$out/$name.build" 2>&1; then
    echo "not ok - $name does not build"; sed 's/^/# /' "$out/$name.build"; status=1; continue
  fi
  "$out/$name" || status=1
done
exit $status

#!/usr/bin/env bash
# tests/run.sh — the whole suite: C-level, Lua-level (busted, inside the binary),
# end-to-end CLI and real-Spark tests. Every suite speaks TAP; this script prints
# each suite's lines and ends with one line: "N passed, N failed[, N skipped]".
#   SPARKGEN   the binary under test (set by `make test`)
#   ONLY       the suites to run, space separated (c lua cli fuzz spark), default all
set -u
cd "$(dirname "$0")/.."
: "${SPARKGEN:=$PWD/sparkgen}"
export SPARKGEN SPARKGEN_HOME="${SPARKGEN_HOME:-$PWD}"
export TZ=UTC LC_ALL=C.UTF-8
if [ "${SANITIZE:-}" = 1 ]; then
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
  # LeakSanitizer's scan of dynamic TLS (the blocks of libcurl, OpenSSL and libpq, loaded
  # with dlopen) can crash its tracer on this glibc ("Tracer caught signal 11"), depending
  # on heap layout. Without TLS as a root the check is stricter, not weaker: anything
  # reachable only from TLS would be reported as a leak.
  export LSAN_OPTIONS="use_tls=0:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
# Keep user configuration and caches out of the tests.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-test.XXXXXX")
chmod 755 "$TEST_TMP"
export TEST_TMP XDG_CONFIG_HOME="$TEST_TMP/config" XDG_CACHE_HOME="$TEST_TMP/cache" XDG_DATA_HOME="$TEST_TMP/data"
unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL SPARK_REMOTE SPARKGEN_PATH SPARKGEN_LOG DATABASE_URL PGHOST PGDATABASE PGUSER PGPASSWORD
trap 'tests/lib/pg.sh stop-all >/dev/null 2>&1; rm -rf "$TEST_TMP"' EXIT

passed=0 failed=0 skipped=0
tally() {   # reads TAP on stdin, echoes it, counts
  local line
  while IFS= read -r line; do
    printf '%s\n' "$line"
    case "$line" in
      "not ok "*) failed=$((failed + 1)) ;;
      "ok "*"# SKIP"*|"ok "*"# skip"*) skipped=$((skipped + 1)) ;;
      "ok "*) passed=$((passed + 1)) ;;
    esac
  done
}
suite() {   # suite NAME CMD...: a suite that exits non-zero without a "not ok" still fails
  local name=$1; shift
  case " ${ONLY:-$name} " in *" $name "*) ;; *) return ;; esac
  echo "# suite: $name"
  local before=$failed out rc
  out="$TEST_TMP/$name.tap"
  "$@" >"$out" 2>"$TEST_TMP/$name.err"; rc=$?
  tally <"$out"
  if [ $rc -ne 0 ] && [ $failed -eq $before ]; then
    echo "not ok - suite $name exited with status $rc"
    sed 's/^/# /' "$TEST_TMP/$name.err" | tail -40
    failed=$((failed + 1))
  elif [ $failed -ne $before ]; then
    sed 's/^/# stderr: /' "$TEST_TMP/$name.err" | tail -40
  fi
}

suite c    tests/c/run.sh
suite lua  "$SPARKGEN" run --trusted tests/busted.lua -o TAP tests/lua
suite cli  "$SPARKGEN" run --trusted tests/busted.lua -o TAP tests/cli
suite fuzz "$SPARKGEN" run --trusted tests/fuzz/fuzz.lua
suite spark tests/spark/run.sh

echo "$passed passed, $failed failed$([ $skipped -gt 0 ] && echo ", $skipped skipped")"
[ $failed -eq 0 ]

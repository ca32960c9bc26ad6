#!/usr/bin/env bash
# tests/spark/run.sh — every built-in type's job on real Spark against the example shop
# database, rows compared with tests/sql/reference/TYPE.sql run on PostgreSQL; a job
# that breaks a validation rule; `sparkgen exec` end to end through spark-submit.
# Prints TAP. Needs Java 17+, `make spark` (run here when missing) and PostgreSQL's
# server binaries; without them the suite is skipped — except under CI=true, where a
# missing prerequisite is a failure.
set -u
cd "$(dirname "$0")/../.."
: "${SPARKGEN:=$PWD/sparkgen}"
OWN_TMP=""
if [ -z "${TEST_TMP:-}" ]; then
  TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sparkgen-spark.XXXXXX"); chmod 755 "$TEST_TMP"
  export TEST_TMP
  OWN_TMP=$TEST_TMP
fi
. tests/spark/servers.sh
on_exit() {
  stop_servers
  if [ -n "$OWN_TMP" ]; then tests/lib/pg.sh stop-all >/dev/null 2>&1; rm -rf "$OWN_TMP"; fi
}
trap on_exit EXIT
export TZ=UTC SPARK_LOCAL_IP=127.0.0.1
WORK=$TEST_TMP/spark
mkdir -p "$WORK/jobs"
AS_OF=2026-11-15
SHOP_SCHEMA=examples/shop/schema.json
SUITE_START=$(date +%s)

n=0
ok()    { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
finish() { echo "# spark suite: $(( $(date +%s) - SUITE_START )) s"; echo "1..$n"; exit 0; }
# Without Spark or Java the suite cannot prove anything: skip locally, fail in CI.
skip_all() {
  if [ "${CI:-}" = true ]; then notok "spark suite prerequisites: $1"; else ok "spark suite # SKIP $1"; fi
  finish
}
# Re-number another script's TAP lines into this stream.
relay() {
  local line
  while IFS= read -r line; do
    case "$line" in
      "ok "*|"not ok "*)
        local verdict=ok rest
        case "$line" in "not ok "*) verdict="not ok" ;; esac
        rest=${line#"$verdict"}
        rest=$(printf '%s' "$rest" | sed -E 's/^ *[0-9]* *-? *//')
        n=$((n + 1)); echo "$verdict $n - $rest" ;;
      "#"*)       echo "$line" ;;
    esac
  done
}

# The comparison rules first: pure Python, no Spark needed.
command -v python3 >/dev/null 2>&1 || skip_all "python3 not found"
relay < <(python3 tests/spark/test_compare.py)

java -version >/dev/null 2>&1 || skip_all "Java 17+ not found (apt-get install openjdk-17-jre-headless)"
if ! make -s spark >"$WORK/make-spark.log" 2>&1; then
  sed 's/^/# /' "$WORK/make-spark.log" | tail -5
  skip_all "make spark failed (pyspark venv)"
fi
export PATH="$PWD/.venv/bin:$PATH"
tests/lib/pg.sh available || skip_all "PostgreSQL server binaries not found"
if ! conninfo=$(tests/lib/pg.sh db shop examples/shop/schema.sql 2>"$WORK/pg.err"); then
  notok "start the example shop database: $(head -1 "$WORK/pg.err")"
  finish
fi
# The same credentials hand-over spark.lua gives a job run by `sparkgen exec`.
mkdir -m 700 "$WORK/handoff"
handoff=$("$SPARKGEN" run --trusted tests/spark/jdbc_env.lua "$conninfo" "$WORK/handoff")

# A standalone cluster and a Spark Connect server start now, in the background, while
# the jobs are rendered and the shared session runs; both read the database through a
# Unix socket, so junixsocket comes with the driver.
PACKAGES="org.postgresql:postgresql:42.7.14,com.kohlschutter.junixsocket:junixsocket-core:2.10.1"
start_cluster
start_connect "$PACKAGES"

# The defence-in-depth probe connects as a role that needs its password (random per run).
PROBE_PW="probe-pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
tests/lib/pg.sh role sparkgen_probe "$PROBE_PW"
psql "$conninfo" -q -c 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO sparkgen_probe' >/dev/null
probe_db=$(printf '%s' "$conninfo" | sed 's/user=[^ ]*/user=sparkgen_probe/')

# Small partition threshold, so the shop's orders and order_items are read in partitions.
cat >"$WORK/sparkgen.lua" <<'CFG'
return {spark = {partition_rows = 1000, num_partitions = 3, master = "local[2]",
                 conf = {["spark.ui.enabled"] = "false", ["spark.sql.shuffle.partitions"] = "4"}}}
CFG
CFG_FLAG=(--config "$WORK/sparkgen.lua")

# The reference's header lines say which source and context it was written for.
header() { sed -n "s/^-- $1: //p" "$2" | head -1; }

# `sparkgen exec` end to end in the background while the shared session runs: revenue
# by category over all time, then the type that breaks its own rule.
(
  "$SPARKGEN" exec orders revenue_by_category --schema "$SHOP_SCHEMA" --db "$conninfo" "${CFG_FLAG[@]}" \
    --context as_of=$AS_OF --context time_period=all --json >"$WORK/exec.jsonl" 2>"$WORK/exec.err"
  echo $? >"$WORK/exec.rc"
  SPARKGEN_PATH=$PWD/tests/spark/root "$SPARKGEN" exec orders refund_lines --schema "$SHOP_SCHEMA" \
    --db "$conninfo" "${CFG_FLAG[@]}" --context as_of=$AS_OF --limit 1 >"$WORK/violation.out" 2>"$WORK/violation.err"
  echo $? >"$WORK/violation.rc"
  # On the standalone cluster: the executors read PostgreSQL and write the result (one
  # JSON file, the result is small); then the probe, whose driver runs here.
  if cluster_ready 180; then
    "$SPARKGEN" exec orders revenue_by_category --schema "$SHOP_SCHEMA" --db "$conninfo" "${CFG_FLAG[@]}" \
      --context as_of=$AS_OF --context time_period=all --master "$MASTER_URL" \
      --output "$WORK/cluster-out" --format json >"$WORK/cluster.out" 2>"$WORK/cluster.err"
    echo $? >"$WORK/cluster.rc"
    printf 'return {spark = {master = "%s", conf = {["spark.ui.enabled"] = "false"}}}\n' "$MASTER_URL" >"$WORK/probe.lua"
    PGPASSWORD=$PROBE_PW ANTHROPIC_API_KEY=sk-ant-probe-fake-$$ "$SPARKGEN" run --trusted tests/spark/probe.lua \
      "$WORK/probe.lua" "$probe_db" "$PROBE_PW" "sk-ant-probe-fake-$$" >"$WORK/probe.tap" 2>"$WORK/probe.err"
  else
    echo "no cluster" >"$WORK/cluster.rc"
  fi
) &
exec_pid=$!

# eval's verdicts, the plan check and candidates: one more sparkgen process holding one
# long-lived Spark session, in the background as well.
SPARKGEN_TEST_DB="$conninfo" SPARKGEN_TEST_CONFIG="$WORK/sparkgen.lua" SPARKGEN_PATH=$PWD/tests/spark/root \
  "$SPARKGEN" run --trusted tests/busted.lua -o TAP tests/spark/eval_session_spec.lua >"$WORK/eval_session.tap" 2>"$WORK/eval_session.err" &
eval_session_pid=$!

cases="$WORK/cases.json"
echo "[" >"$cases"
sep=""
add_case() { printf '%s%s\n' "$sep" "$1" >>"$cases"; sep=","; }
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

for typefile in lua/types/*.lua; do
  name=$(basename "$typefile" .lua)
  ref=tests/sql/reference/$name.sql
  if [ ! -f "$ref" ]; then notok "$name: has a reference query in $ref"; continue; fi
  source=$(header source "$ref"); source=${source:-orders}
  ctx=()
  for kv in $(header context "$ref"); do ctx+=(--context "$kv"); done
  job=$WORK/jobs/$name.py
  if ! "$SPARKGEN" generate "$source" "$name" --schema "$SHOP_SCHEMA" "${CFG_FLAG[@]}" "${ctx[@]}" \
       --job "$job" >/dev/null 2>"$WORK/$name.gen.err"; then
    notok "$name: sparkgen generate --job ($(head -1 "$WORK/$name.gen.err"))"
    continue
  fi
  if python3 -m py_compile "$job" 2>"$WORK/$name.compile.err"; then ok "$name: rendered job compiles"
  else notok "$name: rendered job compiles ($(tail -1 "$WORK/$name.compile.err"))"; continue; fi
  add_case "{\"kind\": \"type\", \"name\": \"$name\", \"job\": $(json_str "$job"), \"reference_sql\": $(json_str "$(cat "$ref")")}"
done

# The job's own helpers (hand-over, exact JSON, table view), no Spark session needed.
relay < <(python3 tests/spark/test_job_unit.py "$WORK/jobs/revenue_by_category.py" 2>&1)

if SPARKGEN_PATH=$PWD/tests/spark/root "$SPARKGEN" generate orders refund_lines --schema "$SHOP_SCHEMA" \
     "${CFG_FLAG[@]}" --context as_of=$AS_OF --job "$WORK/jobs/refund_lines.py" >/dev/null 2>"$WORK/refund.gen.err"; then
  add_case "{\"kind\": \"violation\", \"name\": \"refund_lines\", \"job\": $(json_str "$WORK/jobs/refund_lines.py"), \"rule\": \"positive\"}"
else
  notok "refund_lines: sparkgen generate --job ($(head -1 "$WORK/refund.gen.err"))"
fi
add_case "{\"kind\": \"exec\", \"name\": \"revenue_by_category\", \"dir\": $(json_str "$WORK"), \"reference_sql\": $(json_str "$(cat tests/sql/reference/revenue_by_category.sql)")}"
add_case "{\"kind\": \"exec\", \"name\": \"revenue_by_category\", \"run\": \"cluster\", \"output_dir\": $(json_str "$WORK/cluster-out"), \"label\": \"sparkgen exec --master spark://127.0.0.1 (standalone cluster) --output\", \"dir\": $(json_str "$WORK"), \"reference_sql\": $(json_str "$(cat tests/sql/reference/revenue_by_category.sql)")}"
echo "]" >>"$cases"

SPARKGEN_JDBC_FILE=$handoff python3 tests/spark/test_jobs.py "$cases" >"$WORK/session.tap" 2>"$WORK/session.err"
session_rc=$?
relay <"$WORK/session.tap"
if [ "$session_rc" -ne 0 ]; then
  notok "shared Spark session ran to the end"
  grep -v ' INFO ' "$WORK/session.err" | tail -5 | sed 's/^/# /'
fi

# The eval suite, offline: recordings regenerated from examples/eval/answers.lua through
# the real request path, then `sparkgen eval --replay` in one more Spark session.
"$SPARKGEN" run --trusted examples/eval/record.lua "$WORK/replay" >"$WORK/record.out" 2>&1
record_rc=$?
# The Spark Connect part (tests/spark/connect.sh) runs beside the local eval: its work is
# in the server's JVM, so the two share the machine better than they would in turn.
( ok() { echo "ok - $*"; }; notok() { echo "not ok - $*"; }; relay() { cat; }
  . tests/spark/connect.sh ) >"$WORK/connect-all.tap" 2>"$WORK/connect-all.err" &
connect_pid=$!
if [ "$record_rc" = 0 ]; then
  ok "eval: recordings written from examples/eval/answers.lua"
  if diff <(ls examples/eval/replay) <(ls "$WORK/replay") >/dev/null; then
    ok "eval: the committed recordings in examples/eval/replay match the current prompts"
  else
    notok "eval: the committed recordings in examples/eval/replay match the current prompts (re-run: sparkgen run --trusted examples/eval/record.lua)"
  fi
  # As the README runs it: the database from SPARKGEN_DB, the schema from the suite.
  SPARKGEN_DB="$conninfo" "$SPARKGEN" eval examples/eval/shop.lua "${CFG_FLAG[@]}" \
    --replay "$WORK/replay" --json >"$WORK/eval.json" 2>"$WORK/eval.err"
  echo $? >"$WORK/eval.rc"
  relay < <(python3 - "$WORK/eval.json" "$(cat "$WORK/eval.rc")" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except ValueError:
    print("not ok - eval: --json prints a report")
    sys.exit(0)
for case in report["cases"]:
    if case.get("expect") == "wrong":
        print("%s - eval: known-wrong %s is reported as a wrong result, as expected (%s)" % (
            "ok" if case["status"] == "wrong" and case["as_expected"] else "not ok", case["name"], case["status"]))
    else:
        print("%s - eval: %s passes%s" % ("ok" if case["status"] == "pass" else "not ok", case["name"],
              "" if case["status"] == "pass" else " (%s)" % case.get("reason")))
s = report["summary"]
print("%s - eval: exits 0 because every case came out as expected (status %s)" % (
    "ok" if sys.argv[2] == "0" else "not ok", sys.argv[2]))
print("# eval: %d/%d passed in %.1f s (Spark %.1f s)" % (s["passed"], s["cases"], s["seconds"], s["spark_seconds"]))
PY
)
  if [ ! -s "$WORK/eval.json" ]; then grep -v ' INFO ' "$WORK/eval.err" | tail -5 | sed 's/^/# /'; fi
else
  notok "eval: recordings written from examples/eval/answers.lua ($(tail -1 "$WORK/record.out"))"
fi

wait "$eval_session_pid"
relay <"$WORK/eval_session.tap"
grep -q '^1\.\.' "$WORK/eval_session.tap" || { notok "eval session spec ran to the end"; tail -5 "$WORK/eval_session.err" | sed 's/^/# /'; }
wait "$connect_pid"
relay <"$WORK/connect-all.tap"
[ -s "$WORK/connect-all.tap" ] || notok "connect: the Spark Connect tests ran ($(tail -1 "$WORK/connect-all.err"))"

wait "$exec_pid"
if [ "$(cat "$WORK/exec.rc" 2>/dev/null)" != 0 ]; then
  grep -v ' INFO ' "$WORK/exec.err" | grep -v '^\s*$' | tail -5 | sed 's/^/# /'
fi
vrc=$(cat "$WORK/violation.rc" 2>/dev/null)
if [ "$vrc" = 3 ] && grep -q "sparkgen: validation failed: positive" "$WORK/violation.err" \
   && grep -q "sparkgen: check failed: positive:" "$WORK/violation.err" \
   && ! grep -q "check failed" "$WORK/violation.out"; then
  ok "refund_lines: sparkgen exec exits 3 naming the failed rule positive on stderr"
else
  notok "refund_lines: sparkgen exec exits 3 naming the failed rule positive on stderr (status $vrc)"
  grep -v ' INFO ' "$WORK/violation.err" | grep -v '^\s*$' | tail -5 | sed 's/^/# /'
fi
crc=$(cat "$WORK/cluster.rc" 2>/dev/null)
if [ "$crc" = 0 ] && grep -q "^wrote 3 rows to $WORK/cluster-out (json, 1 file)$" "$WORK/cluster.err"; then
  ok "cluster: sparkgen exec --output says it wrote 3 rows as one json file"
else
  notok "cluster: sparkgen exec --output says it wrote 3 rows as one json file (status $crc)"
  tail -5 "$WORK/cluster.err" "$WORK/cluster/worker.log" 2>/dev/null | sed 's/^/# /'
fi
if [ -s "$WORK/probe.tap" ]; then
  relay < <(sed 's/^\(not \)\{0,1\}ok [0-9]* - /&probe: /' "$WORK/probe.tap")
else
  notok "probe: the defence-in-depth probe ran on the cluster ($(tail -1 "$WORK/probe.err" 2>/dev/null))"
fi
finish

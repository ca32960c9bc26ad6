# tests/spark/connect.sh — sourced by tests/spark/run.sh after the shared session: jobs
# through the Spark Connect server that servers.sh started. Every built-in type through
# one Connect client session (rows compared with the references), `sparkgen exec
# --remote` writing files and a catalog table in each mode, and `sparkgen eval --remote`.
if ! wait_port "$CONNECT_PORT" 180; then
  notok "connect: a Spark Connect server listens on $CONNECT_URL"
  tail -5 "$WORK/connect/server.log" | sed 's/^/# /'
  return 0
fi
ok "connect: a Spark Connect server listens on $CONNECT_URL"

mkdir -m 700 "$WORK/handoff-connect"
connect_handoff=$("$SPARKGEN" run --trusted tests/spark/jdbc_env.lua "$conninfo" "$WORK/handoff-connect" "$CONNECT_URL")
python3 - "$cases" >"$WORK/connect-cases.json" <<'PY'
import json, sys
cases = [dict(c, name="connect: " + c["name"]) for c in json.load(open(sys.argv[1])) if c["kind"] == "type"]
print(json.dumps(cases))
PY
SPARKGEN_JDBC_FILE=$connect_handoff python3 tests/spark/test_jobs.py "$WORK/connect-cases.json" \
  >"$WORK/connect.tap" 2>"$WORK/connect.err"
relay <"$WORK/connect.tap"
[ -s "$WORK/connect.tap" ] || tail -5 "$WORK/connect.err" | sed 's/^/# /'

# `sparkgen exec --remote`: revenue by category (3 rows) written where the server writes.
rx() {
  "$SPARKGEN" exec orders revenue_by_category --schema "$SHOP_SCHEMA" --db "$conninfo" "${CFG_FLAG[@]}" \
    --context as_of=$AS_OF --context time_period=all --remote "$CONNECT_URL" "$@" >"$WORK/rx.out" 2>"$WORK/rx.err"
  rx_rc=$?
}
rx_check() {  # rx_check WANT_RC STDERR_PATTERN DESCRIPTION
  if [ "$rx_rc" = "$1" ] && grep -q -- "$2" "$WORK/rx.err"; then ok "connect: $3"
  else notok "connect: $3 (status $rx_rc)"; tail -3 "$WORK/rx.err" | sed 's/^/# /'; fi
}
parts() { ls "$1"/part-* 2>/dev/null | wc -l; }
OUT=$WORK/connect-out/revenue
rx --output "$OUT" --format csv
rx_check 0 "^wrote 3 rows to $OUT (csv)$" "exec --output writes 3 rows and says so"
if [ "$(parts "$OUT")" = 1 ] && [ "$(cat "$OUT"/part-* | wc -l)" = 4 ]; then
  ok "connect: a small result is one csv file with a header"
else
  notok "connect: a small result is one csv file with a header ($(parts "$OUT") files)"
fi
before=$(cat "$OUT"/part-* | md5sum)
rx --output "$OUT" --format csv
rx_check 1 "already exists" "writing onto an existing output without --mode fails"
[ "$(cat "$OUT"/part-* | md5sum)" = "$before" ] && ok "connect: ... and leaves it untouched" \
  || notok "connect: ... and leaves it untouched"
rx --output "$OUT" --format csv --mode append
rx_check 0 "^appended 3 rows to $OUT (csv)$" "--mode append adds to the output"
[ "$(parts "$OUT")" = 2 ] && ok "connect: ... as a second file" || notok "connect: ... as a second file ($(parts "$OUT"))"
rx --output "$OUT" --format csv --mode overwrite --partitions 2
rx_check 0 "^wrote 3 rows to $OUT (csv)$" "--mode overwrite replaces the output"
[ "$(parts "$OUT")" = 2 ] && [ "$(cat "$OUT"/part-* | wc -l)" = 5 ] \
  && ok "connect: ... with --partitions 2 as two files of the 3 rows" \
  || notok "connect: ... with --partitions 2 as two files of the 3 rows ($(parts "$OUT") files)"
rx --output-table sg_revenue
rx_check 0 "^wrote 3 rows to table sg_revenue$" "exec --output-table writes a table of the session catalog"
rx --output-table sg_revenue
rx_check 1 "table sg_revenue already exists: not touched" "an existing table is refused without --mode overwrite"
rx --output-table sg_revenue --mode overwrite
rx_check 0 "^wrote 3 rows to table sg_revenue$" "--mode overwrite replaces the table"
rx --output-table sg_revenue --mode ignore
rx_check 0 "^table sg_revenue already exists: nothing written (--mode ignore)$" "--mode ignore leaves an existing table and says so"
rx --json
if [ "$rx_rc" = 0 ] && grep -q '"revenue": 524514.52, ' "$WORK/rx.out"; then
  ok "connect: exec --remote --json prints exact decimals"
else
  notok "connect: exec --remote --json prints exact decimals (status $rx_rc)"; tail -3 "$WORK/rx.err" | sed 's/^/# /'
fi

# `sparkgen eval --remote`: two cases of the shipped suite through the same server.
"$SPARKGEN" eval examples/eval/shop.lua --schema "$SHOP_SCHEMA" --db "$conninfo" "${CFG_FLAG[@]}" \
  --replay "$WORK/replay" --remote "$CONNECT_URL" --case type_revenue_by_category_all \
  --case customers_without_orders --json >"$WORK/eval-connect.json" 2>"$WORK/eval-connect.err"
erc=$?
if [ "$erc" = 0 ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r["summary"]["passed"] != 2)' \
     "$WORK/eval-connect.json" 2>/dev/null; then
  ok "connect: eval --remote passes two cases of the shipped suite"
else
  notok "connect: eval --remote passes two cases of the shipped suite (status $erc)"
  tail -3 "$WORK/eval-connect.err" | sed 's/^/# /'
fi

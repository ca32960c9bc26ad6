#!/usr/bin/env python3
"""tests/spark/test_jobs.py CASES.json -- runs rendered jobs in ONE Spark session and
prints TAP lines (numbered by run.sh). Each case is one of:
  {"kind": "type", "name", "job", "reference_sql"}   rows must match the reference and
                                                     every validation check must pass
  {"kind": "violation", "name", "job", "rule"}       the check named `rule` must fail
  {"kind": "exec", "name", "dir", "reference_sql",   JSON lines written by `sparkgen exec`
   "run"?, "label"?, "output_dir"?}                  (dir/RUN.jsonl or output_dir/part-*, dir/RUN.rc; RUN
                                                     defaults to exec) must match the
                                                     reference
The JDBC settings come from the environment (see jdbc_env.lua)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "py"))
import sparkrun  # noqa: E402


def tap(ok, text):
    print("%s - %s" % ("ok" if ok else "not ok", text), flush=True)


def type_case(spark, case):
    job = sparkrun.load_job(case["job"])
    started = time.monotonic()
    out = sparkrun.run_job(spark, job)
    seconds = time.monotonic() - started
    if out["error"]:
        tap(False, "%s: job runs on Spark (%s)" % (case["name"], out["error"]))
        return
    tap(not out["failed_checks"], "%s: validation checks pass%s" % (
        case["name"], "" if not out["failed_checks"] else " (failed: %s)" % ", ".join(out["failed_checks"])))
    expected, columns = sparkrun.reference_rows(spark, case["reference_sql"])
    ok, diff = sparkrun.compare(out["rows"], expected, actual_columns=out["columns"],
                                expected_columns=columns)
    tap(ok and len(expected) > 0, "%s: %d rows match the reference SQL (%.1f s)%s" % (
        case["name"], len(expected), seconds, "" if ok else ": " + diff))


def violation_case(spark, case):
    out = sparkrun.run_job(spark, sparkrun.load_job(case["job"]))
    tap(out["error"] is None and out["failed_checks"] == [case["rule"]],
        "%s: a result that breaks its rule fails exactly the check %s (got %s%s)" % (
            case["name"], case["rule"], out["failed_checks"],
            "" if out["error"] is None else ", error " + out["error"]))


def exec_case(spark, case, timeout=240):
    run = case.get("run", "exec")
    label = case.get("label", "sparkgen exec --json through spark-submit")
    rc_path = os.path.join(case["dir"], run + ".rc")
    deadline = time.monotonic() + timeout
    while not os.path.exists(rc_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not os.path.exists(rc_path):
        tap(False, "%s: sparkgen exec finished within %d s" % (case["name"], timeout))
        return
    with open(rc_path) as f:
        rc = f.read().strip()
    if rc != "0":
        tap(False, "%s: sparkgen exec exited 0 (got %s)" % (case["name"], rc))
        return
    # The rows: what exec printed (--json), or the JSON files it wrote (--output DIR).
    out_dir = case.get("output_dir")
    paths = ([os.path.join(out_dir, f) for f in sorted(os.listdir(out_dir)) if f.startswith("part-")]
             if out_dir else [os.path.join(case["dir"], run + ".jsonl")])
    records = []
    for path in paths:
        with open(path) as f:
            records.extend(json.loads(line) for line in f if line.strip())
    expected, columns = sparkrun.reference_rows(spark, case["reference_sql"])
    # JSON objects keep the job's column names and order.
    rows = [tuple(r.values()) for r in records]
    ok, diff = sparkrun.compare(rows, expected, actual_columns=list(records[0]) if records else None,
                                expected_columns=columns)
    tap(ok and len(expected) > 0, "%s: %s prints the reference rows (%d)%s" % (
        case["name"], label, len(expected), "" if ok else ": " + diff))


def main(argv):
    with open(argv[0]) as f:
        cases = json.load(f)
    started = time.monotonic()
    spark = sparkrun.session(app="sparkgen-tests")
    print("# shared Spark session started in %.1f s" % (time.monotonic() - started), flush=True)
    handlers = {"type": type_case, "violation": violation_case, "exec": exec_case}
    for case in cases:
        try:
            handlers[case["kind"]](spark, case)
        except Exception as exc:  # one broken case must not hide the others
            tap(False, "%s: %s" % (case.get("name"), sparkrun.first_line(exc)))
    spark.stop()
    print("# shared session total %.1f s" % (time.monotonic() - started), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

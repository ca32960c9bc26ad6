#!/usr/bin/env python3
"""sparkrun.py -- the shared-session runner for rendered sparkgen jobs.

spark-submit costs seconds of JVM start-up per job, so the tests and `sparkgen eval`
import rendered jobs as modules and run them all in ONE SparkSession:
transform(read_table, PARAMS), then run_checks. It also runs reference SQL on
PostgreSQL (through the same read-only JDBC settings, with Spark's `query` option) and
compares rows the way BIRD/Spider score execution accuracy: rows as a multiset, column
order and names ignored, numbers equal within a relative tolerance, row order only
when asked.

Library use:
    spark = session()
    job = load_job("out/revenue.py")
    outcome = run_job(spark, job)              # {"rows", "columns", "failed_checks", "error"}
    ok, diff = compare(outcome["rows"], reference_rows(spark, sql))

Command line (one JSON object per case on stdout):
    python3 sparkrun.py CASES.json     # [{"name", "job", "reference_sql"?, "ordered"?}]

The JDBC settings (and a Spark Connect URL) are handed over exactly as to a job: a 0600
JSON file named by SPARKGEN_JDBC_FILE, read and deleted before the session starts (see
take_credentials in templates/job.py), so no body run here finds them in os.environ,
the JVM's environment or its system properties. The SPARKGEN_JDBC_* variables work too.
"""
import importlib.util
import itertools
import json
import math
import os
import sys
from datetime import date, datetime
from decimal import Decimal

POSTGRES_PACKAGE = "org.postgresql:postgresql:42.7.14"
JUNIXSOCKET_PACKAGE = "com.kohlschutter.junixsocket:junixsocket-core:2.10.1"
REL_TOL = 1e-6


def session(app="sparkgen-sparkrun", master=None, packages=None, conf=None):
    """A SparkSession pinned to UTC with the JDBC driver (and junixsocket when the
    environment asks for a Unix socket) on the classpath."""
    os.environ["TZ"] = "UTC"
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession
    jdbc_options()  # the credentials leave the environment before the JVM starts
    if _taken["remote"]:
        spark = SparkSession.builder.appName(app).remote(_taken["remote"]) \
            .config("spark.sql.session.timeZone", "UTC") \
            .config("spark.sql.variable.substitute", "false").getOrCreate()
        return spark
    if packages is None and os.environ.get("SPARKGEN_SPARK_PACKAGES") is not None:
        # sparkgen eval passes exactly what spark.lua would give spark-submit.
        packages = [p for p in os.environ["SPARKGEN_SPARK_PACKAGES"].split(",") if p]
    if packages is None:
        packages = [POSTGRES_PACKAGE]
        if "socketFactory=" in jdbc_options()["url"]:
            packages.append(JUNIXSOCKET_PACKAGE)
    conf = dict(conf or {})
    if os.environ.get("SPARKGEN_SPARK_JARS"):
        conf.setdefault("spark.jars", os.environ["SPARKGEN_SPARK_JARS"])
    builder = (SparkSession.builder.appName(app)
               .master(master or os.environ.get("SPARKGEN_SPARK_MASTER", "local[2]"))
               .config("spark.sql.session.timeZone", "UTC")
               # as in templates/job.py: no ${env:NAME} / ${system:prop} in SQL text
               .config("spark.sql.variable.substitute", "false")
               .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4"))
    if packages:
        builder = builder.config("spark.jars.packages", ",".join(packages))
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


_loaded = 0


def load_job(path):
    """Import a rendered job file as a fresh module (its main() is not run)."""
    global _loaded
    _loaded += 1
    name = "sparkgen_job_%d" % _loaded
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_line(exc):
    """The first meaningful line of a (possibly Java) error message."""
    java = getattr(exc, "java_exception", None)
    text = str(exc).strip()
    if java is not None and (not text or text.startswith("An error occurred")):
        text = str(java.toString()).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def run_job(spark, job, params=None):
    """Run one job module in the shared session.
    Returns {"rows": [tuple], "columns": [str], "failed_checks": [str], "error": str|None}."""
    out = {"rows": [], "columns": [], "failed_checks": [], "error": None}
    try:
        read_table = job.read_table_factory(spark, jdbc_options())
        df = job.transform(read_table, dict(params if params is not None else job.PARAMS))
        # The checks and the collect are separate actions: read the database once.
        df = df.persist()
        out["columns"] = list(df.columns)
        out["failed_checks"] = [name for name, _, _ in job.run_checks(df)]
        out["rows"] = [tuple(row) for row in df.collect()]
        df.unpersist()
    except Exception as exc:  # the runner reports, the caller judges
        out["error"] = first_line(exc)
    return out


_taken = {"options": None, "remote": None}


def jdbc_options():
    """The read-only JDBC options a job would use, taken from the hand-over once."""
    if _taken["options"] is None:
        _taken["options"], _taken["remote"] = _take_credentials()
    return dict(_taken["options"])


def _take_credentials():
    """templates/job.py's own take_credentials (one reader of the hand-over for jobs
    and this runner): that part of the skeleton holds no template code."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "templates", "job.py")) as f:
        text = f.read()
    from urllib.parse import quote
    scope = {"os": os, "json": json, "quote": quote, "FETCH_SIZE": 10000}
    exec(compile(text[text.index("class JobError"):text.index("def _quote_name")], "templates/job.py", "exec"), scope)
    return scope["take_credentials"]()


def reference_rows(spark, sql):
    """Rows of a reference query run on PostgreSQL through Spark's JDBC `query` option,
    so both sides get the same type mapping. Returns (rows, columns)."""
    query = sql.strip()
    while query.endswith(";"):
        query = query[:-1].rstrip()
    # Spark wraps the query in parentheses: a trailing line comment would swallow them.
    df = (spark.read.format("jdbc").options(**jdbc_options())
          .option("query", query + "\n").load())
    return [tuple(row) for row in df.collect()], list(df.columns)


def _norm(value):
    """A comparable form: numbers as floats, times as ISO text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    return str(value)


def _close(a, b):
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), 1e-9)
    return a == b


def _sort_key(row):
    # Numbers rounded for sorting only (equality is judged by _close); None sorts first.
    return tuple((0, "") if v is None else
                 (1, "%.9g" % v) if isinstance(v, float) else (2, str(v)) for v in row)


def _rows_match(actual, expected, ordered):
    if len(actual) != len(expected):
        return False
    if not ordered:
        actual = sorted(actual, key=_sort_key)
        expected = sorted(expected, key=_sort_key)
    if all(all(_close(a, b) for a, b in zip(ra, rb)) for ra, rb in zip(actual, expected)):
        return True
    if ordered:
        return False
    # Sorting can pair near-equal rows differently; fall back to greedy matching.
    remaining = list(expected)
    for ra in actual:
        for i, rb in enumerate(remaining):
            if all(_close(a, b) for a, b in zip(ra, rb)):
                del remaining[i]
                break
        else:
            return False
    return True


def _column_orders(actual, expected):
    """Column permutations of the actual rows worth trying: as given, then columns
    matched by equal value multisets, then (few columns only) every permutation."""
    n = len(expected[0])
    identity = tuple(range(n))
    yield identity

    def signature(rows, i):
        return sorted(_sort_key((r[i],)) for r in rows)
    order, used = [], set()
    for j in range(n):
        want = signature(expected, j)
        free = [i for i in range(n) if i not in used]
        pick = next((i for i in free if signature(actual, i) == want), free[0])
        used.add(pick)
        order.append(pick)
    if tuple(order) != identity:
        yield tuple(order)
    if n <= 5:
        for perm in itertools.permutations(range(n)):
            if perm != identity and perm != tuple(order):
                yield perm


def compare(actual, expected, ordered=False, limit=3):
    """Execution-accuracy comparison. Returns (True, "") or (False, short diff)."""
    act = [tuple(_norm(v) for v in row) for row in actual]
    exp = [tuple(_norm(v) for v in row) for row in expected]
    width_a = {len(r) for r in act}
    width_e = {len(r) for r in exp}
    if act and exp and width_a != width_e:
        return False, "expected %s columns, got %s" % (sorted(width_e)[0], sorted(width_a)[0])
    if not act or not exp:
        if len(act) == len(exp):
            return True, ""
        return False, "expected %d rows, got %d" % (len(exp), len(act))
    for order in _column_orders(act, exp):
        permuted = [tuple(r[i] for i in order) for r in act]
        if _rows_match(permuted, exp, ordered):
            return True, ""
    # Report against the identity column order: counts and a few rows on either side.
    missing = [r for r in exp if r not in act][:limit]
    extra = [r for r in act if r not in exp][:limit]
    parts = ["expected %d rows, got %d" % (len(exp), len(act))]
    if missing:
        parts.append("missing e.g. " + "; ".join(repr(r) for r in missing))
    if extra:
        parts.append("unexpected e.g. " + "; ".join(repr(r) for r in extra))
    if ordered and not missing and not extra:
        parts.append("same rows in a different order")
    return False, ", ".join(parts)


def run_cases(spark, cases):
    """Run case dicts {"name", "job", "reference_sql"? | "expected_rows"?, "ordered"?,
    "params"?}; yields
    {"name", "ok", "error", "failed_checks", "diff", "rows", "expected_rows", "seconds"}."""
    import time
    for case in cases:
        started = time.monotonic()
        result = {"name": case.get("name", case["job"]), "ok": False, "error": None,
                  "failed_checks": [], "diff": "", "rows": 0, "expected_rows": None}
        try:
            job = load_job(case["job"])
        except Exception as exc:
            result["error"] = "cannot load job: " + first_line(exc)
            result["seconds"] = time.monotonic() - started
            yield result
            continue
        outcome = run_job(spark, job, case.get("params"))
        result["error"] = outcome["error"]
        result["failed_checks"] = outcome["failed_checks"]
        result["rows"] = len(outcome["rows"])
        ok = outcome["error"] is None
        if ok and case.get("expected_rows") is not None:
            expected = [tuple(r) for r in case["expected_rows"]]
            result["expected_rows"] = len(expected)
            ok, result["diff"] = compare(outcome["rows"], expected, case.get("ordered", False))
        elif ok and case.get("reference_sql"):
            try:
                expected, _ = reference_rows(spark, case["reference_sql"])
                result["expected_rows"] = len(expected)
                ok, result["diff"] = compare(outcome["rows"], expected, case.get("ordered", False))
            except Exception as exc:
                ok, result["error"] = False, "reference query failed: " + first_line(exc)
        result["ok"] = ok and not outcome["failed_checks"]
        result["seconds"] = round(time.monotonic() - started, 3)
        yield result


def main(argv):
    if len(argv) != 1:
        print("usage: sparkrun.py CASES.json", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        cases = json.load(f)
    spark = session(app="sparkgen-eval")
    failed = 0
    for result in run_cases(spark, cases):
        failed += 0 if result["ok"] else 1
        print(json.dumps(result, sort_keys=True), flush=True)
    spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

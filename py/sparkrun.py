#!/usr/bin/env python3
"""sparkrun.py -- the shared-session runner for rendered sparkgen jobs.

spark-submit costs seconds of JVM start-up per job, so the tests and `sparkgen eval`
import rendered jobs as modules and run them all in ONE SparkSession:
transform(read_table, PARAMS), then run_checks. It also runs reference SQL on
PostgreSQL (through the same read-only JDBC settings, with Spark's `query` option) and
compares rows the way BIRD/Spider score execution accuracy (sparkcompare.py: rows as a
multiset, columns by name, numbers equal within a relative tolerance, row order only
when asked). A body's current_date() and friends are pinned to params["as_of"]
(pinclock.py).

Library use:
    spark = session()
    job = load_job("out/revenue.py")
    outcome = run_job(spark, job)              # {"rows", "columns", "failed_checks", "error"}
    rows, columns = reference_rows(spark, sql)
    ok, diff = compare(outcome["rows"], rows, actual_columns=outcome["columns"],
                       expected_columns=columns)

Command line (one JSON object per case on stdout):
    python3 sparkrun.py CASES.json     # [{"name", "job", "reference_sql"? | "expected_rows"?
                                       #   "columns"?, "ordered"?, "match"?, "map"?}]

The JDBC settings (and a Spark Connect URL) are handed over exactly as to a job: a 0600
JSON file named by SPARKGEN_JDBC_FILE, read and deleted before the session starts (see
take_credentials in templates/job.py), so no body run here finds them in os.environ,
the JVM's environment or its system properties. The SPARKGEN_JDBC_* variables work too.
"""
import ast
import importlib.util
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pinclock  # noqa: E402
import sparkcompare  # noqa: E402

POSTGRES_PACKAGE = "org.postgresql:postgresql:42.7.14"
JUNIXSOCKET_PACKAGE = "com.kohlschutter.junixsocket:junixsocket-core:2.10.1"

SKELETON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "templates", "job.py")


def _skeleton(start, end):
    """The text of templates/job.py from the line starting with `start` up to `end`
    (parts of the skeleton that hold no template code), and its first line's number."""
    with open(SKELETON) as f:
        text = f.read()
    first = text.index("\n" + start) + 1
    return text[first:text.index(end, first)], text.count("\n", 0, first) + 1


def _session_conf():
    text, _ = _skeleton("SESSION_CONF = ", "\n\n")
    return ast.literal_eval(text.split("=", 1)[1].strip())


# Every job's session settings (templates/job.py's SESSION_CONF, which says why each is
# there), for the shared session on Spark Connect and on local Spark alike.
SESSION_CONF = _session_conf()
# What only a local session started here adds.
LOCAL_CONF = (
    ("spark.driver.extraJavaOptions", "-Duser.timezone=UTC"),
    ("spark.executor.extraJavaOptions", "-Duser.timezone=UTC"),
    ("spark.ui.enabled", "false"),
    ("spark.sql.shuffle.partitions", "4"),
)


def _configured(builder, settings):
    for key, value in settings:
        builder = builder.config(key, value)
    return builder


def session(app="sparkgen-sparkrun", master=None, packages=None, conf=None):
    """A SparkSession pinned to UTC with the JDBC driver (and junixsocket when the
    environment asks for a Unix socket) on the classpath."""
    os.environ["TZ"] = "UTC"
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession
    jdbc_options()  # the credentials leave the environment before the JVM starts
    if _taken["remote"]:
        return _configured(SparkSession.builder.appName(app).remote(_taken["remote"]),
                           SESSION_CONF).getOrCreate()
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
    builder = _configured(
        SparkSession.builder.appName(app)
        .master(master or os.environ.get("SPARKGEN_SPARK_MASTER", "local[2]")),
        SESSION_CONF + LOCAL_CONF)
    if packages:
        builder = builder.config("spark.jars.packages", ",".join(packages))
    spark = _configured(builder, conf.items()).getOrCreate()
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
        params = dict(params if params is not None else job.PARAMS)
        # current_date() and friends mean params["as_of"] here (pinclock.py).
        with pinclock.pinned(params.get("as_of"), job):
            df = job.transform(read_table, params)
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
    text, line = _skeleton("class JobError", "def _quote_name")
    from urllib.parse import quote
    scope = {"os": os, "json": json, "quote": quote, "FETCH_SIZE": 10000}
    # blank lines first, so a traceback names the skeleton's own line numbers
    exec(compile("\n" * (line - 1) + text, SKELETON, "exec"), scope)
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


def compare(actual, expected, ordered=False, limit=3, **columns):
    """Execution-accuracy comparison (sparkcompare.compare: columns by name unless the
    case asks for match="positional"). Returns (True, "") or (False, short diff)."""
    return sparkcompare.compare(actual, expected, ordered, limit, **columns)


def run_cases(spark, cases, on_start=None):
    """Run case dicts {"name", "job", "reference_sql"? | "expected_rows"? + "columns"?,
    "ordered"?, "match"?, "map"?, "params"?}; yields
    {"name", "ok", "error", "failed_checks", "diff", "rows", "expected_rows", "seconds"}.
    on_start(case) is called before each case runs."""
    import time
    for case in cases:
        if on_start:
            on_start(case)
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
        how = {"actual_columns": outcome["columns"], "match": case.get("match") or "name",
               "column_map": case.get("map")}
        if ok and case.get("expected_rows") is not None:
            expected = [tuple(r) for r in case["expected_rows"]]
            result["expected_rows"] = len(expected)
            ok, result["diff"] = compare(outcome["rows"], expected, case.get("ordered", False),
                                         expected_columns=case.get("columns"), **how)
        elif ok and case.get("reference_sql"):
            try:
                expected, columns = reference_rows(spark, case["reference_sql"])
                result["expected_rows"] = len(expected)
                ok, result["diff"] = compare(outcome["rows"], expected, case.get("ordered", False),
                                             expected_columns=columns, **how)
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

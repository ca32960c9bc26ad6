"""samplerun.py -- run a candidate job on a bounded sample of the real tables, for
`--candidates N` (lua/sparkgen/candidates.lua): every candidate reads the SAME sample
(the first N rows of each table in primary-key order, read once per session through the
read-only JDBC settings and cached), so candidates that compute the same thing give the
same rows, and the rows' signature groups them.

    run(spark, job_path, tables, sample_rows, cache)
      tables: {name: {"order_by": [primary key columns]}}
      -> {"ok", "error", "columns", "rows", "signature", "failed_checks", "plan_size"}

The signature is a SHA-256 of the column names (lower case, sorted) and the multiset of
rows in that column order, numbers rounded to 9 significant digits and dates as
midnight timestamps (sparkcompare.norm), so column order and 1e-9 noise do not split
agreeing candidates.
"""
import hashlib
import json

import pinclock
import sparkcompare
import sparkrun

RESULT_LIMIT = 10000


def _sample(spark, dbtable, order_by, n, cache):
    key = (dbtable, tuple(order_by or ()), n)
    if key not in cache:
        order = (" ORDER BY " + ", ".join('"%s"' % c.replace('"', '""') for c in order_by)) if order_by else ""
        query = "SELECT * FROM %s%s LIMIT %d" % (dbtable, order, int(n))
        df = spark.read.format("jdbc").options(**sparkrun.jdbc_options()).option("query", query).load()
        cache[key] = df.cache()
    return cache[key]


def signature(rows, columns):
    names = [c.lower() for c in columns]
    order = sorted(range(len(names)), key=lambda i: names[i])
    canon = []
    for row in rows:
        values = []
        for i in order:
            v = sparkcompare.norm(row[i])
            values.append(("%.9g" % v) if isinstance(v, float) else v)
        canon.append(values)
    canon.sort(key=lambda r: json.dumps(r, default=str))
    text = json.dumps({"columns": [names[i] for i in order], "rows": canon}, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _plan_size(df):
    try:
        return len(str(df._jdf.queryExecution().optimizedPlan().toString()).splitlines())
    except Exception:  # Spark Connect has no _jdf: the caller falls back to code size
        return None


def run(spark, job_path, tables, sample_rows, cache):
    out = {"ok": False, "error": None, "columns": [], "rows": 0, "signature": None,
           "failed_checks": [], "plan_size": None}
    try:
        job = sparkrun.load_job(job_path)

        def read_table(name):
            info = job.TABLES.get(name) or {"dbtable": job._quote_name(name)}
            spec = tables.get(name) or {}
            return _sample(spark, info["dbtable"], spec.get("order_by"), sample_rows, cache)

        params = dict(job.PARAMS)
        with pinclock.pinned(params.get("as_of"), job):
            df = job.transform(read_table, params)
        df = df.persist()
        rows = [tuple(r) for r in df.limit(RESULT_LIMIT + 1).collect()]
        out["columns"] = list(df.columns)
        out["rows"] = len(rows)
        out["failed_checks"] = [name for name, _, _ in job.run_checks(df)]
        out["signature"] = signature(rows, out["columns"])
        out["plan_size"] = _plan_size(df)
        df.unpersist()
        out["ok"] = True
    except Exception as exc:
        out["error"] = sparkrun.first_line(exc)
    return out

#!/usr/bin/env python3
"""tests/spark/test_job_unit.py JOB.py -- the rendered job's own helpers, no Spark
session: the credentials hand-over (read once, file deleted, variables gone), exact
JSON values and the aligned table. Prints TAP (numbered by run.sh)."""
import importlib.util
import json
import os
import sys
import tempfile
from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import types as T


def tap(ok, text):
    print("%s - %s" % ("ok" if ok else "not ok", text), flush=True)


spec = importlib.util.spec_from_file_location("job_under_test", sys.argv[1])
job = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job)

# The hand-over: sparkgen's one-shot file is read and deleted, the variables are gone.
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "credentials.json")
    with open(path, "w") as f:
        json.dump({"jdbc": {"url": "jdbc:postgresql://localhost/shop", "user": "u", "password": "pw-unit",
                            "properties": {"socketFactoryArg": "/tmp/s/.s.PGSQL.5432"}},
                   "remote": "sc://127.0.0.1:15002", "one_shot": True}, f)
    os.environ["SPARKGEN_JDBC_FILE"] = path
    os.environ["SPARKGEN_JDBC_PASSWORD"] = "stale"
    options, remote = job.take_credentials()
    tap(options["password"] == "pw-unit" and options["user"] == "u" and remote == "sc://127.0.0.1:15002",
        "take_credentials reads the JDBC settings and the Connect URL from the hand-over file")
    tap(not os.path.exists(path), "take_credentials deletes sparkgen's one-shot hand-over file")
    tap(not any(k.startswith("SPARKGEN_JDBC") for k in os.environ),
        "no SPARKGEN_JDBC_* variable is left in os.environ")
    tap(options["url"] == "jdbc:postgresql://localhost/shop?socketFactoryArg=/tmp/s/.s.PGSQL.5432"
        "&readOnly=true&readOnlyMode=always",
        "driver properties travel in the URL, which is forced read-only (got %s)" % options["url"])
    kept = os.path.join(d, "mine.json")
    with open(kept, "w") as f:
        json.dump({"jdbc": {"url": "jdbc:postgresql://db/shop"}}, f)
    os.environ["SPARKGEN_JDBC_FILE"] = kept
    job.take_credentials()
    tap(os.path.exists(kept), "a file the user wrote (no one_shot) is read and left in place")
    try:
        job.take_credentials()
        tap(False, "without any hand-over the job says how to give one")
    except job.JobError as exc:
        tap("SPARKGEN_JDBC_FILE" in str(exc), "without any hand-over the job says how to give one")

# Exact values.
row_type = T.StructType([
    T.StructField("amount", T.DecimalType(12, 2)), T.StructField("big", T.DecimalType(38, 18)),
    T.StructField("day", T.DateType()), T.StructField("at", T.TimestampType()),
    T.StructField("local", T.TimestampNTZType()), T.StructField("x", T.DoubleType()),
    T.StructField("n", T.LongType()), T.StructField("ok", T.BooleanType()),
    T.StructField("tags", T.ArrayType(T.DecimalType(5, 1))), T.StructField("name", T.StringType()),
])
values = (Decimal("12.50"), Decimal("12345678901234567890.123456789012345678"), date(2026, 11, 15),
          datetime(2026, 11, 15, 10, 30, 5), datetime(2026, 11, 15, 10, 30), float("nan"), 7, True,
          [Decimal("1.0"), None], 'say "hi"')
text = job.json_text(values, row_type)
want = ('{"amount": 12.50, "big": 12345678901234567890.123456789012345678, "day": "2026-11-15", '
        '"at": "2026-11-15T10:30:05Z", "local": "2026-11-15T10:30:00", "x": "NaN", "n": 7, "ok": true, '
        '"tags": [1.0, null], "name": "say \\"hi\\""}')
tap(text == want, "JSON keeps decimals exact (scale and all 38 digits), dates and timestamps ISO%s"
    % ("" if text == want else ": " + text))
parsed = json.loads(text, parse_float=Decimal)
tap(parsed["big"] == values[1] and str(parsed["amount"]) == "12.50", "the JSON parses back to the same decimals")

fields = [T.StructField("category", T.StringType()), T.StructField("revenue", T.DecimalType(12, 2)),
          T.StructField("orders", T.LongType())]
table = job.table_text(fields, [("Küche", Decimal("5.10"), 12), ("家電", Decimal("1234.00"), 3), (None, None, None)])
want = ("category | revenue | orders\n"
        "---------+---------+-------\n"
        "Küche    |    5.10 |     12\n"
        "家電     | 1234.00 |      3\n"
        "NULL     |    NULL |   NULL")
tap(table == want, "the table view aligns columns (numbers right, wide characters counted twice)%s"
    % ("" if table == want else ":\n" + table))

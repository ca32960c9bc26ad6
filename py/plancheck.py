"""plancheck.py -- analyse a rendered job on Spark without reading any data.

read_table(name) returns an EMPTY DataFrame with the exact Spark types a JDBC read of
that table would give (spark_type: the PostgreSQL type as the schema snapshot prints
it, mapped the way Spark's PostgreSQL dialect maps it), the job's transform() runs,
and result_df's schema is resolved. Spark's analysis errors become findings:

    check(spark, job_path, tables, params=None, body_offset=0)
      tables: {name: [{"name": column, "type": "numeric(10,2)", "nullable": bool}]}
      -> {"ok": bool, "columns": [[name, type]], "findings": [...], "warnings": [...]}

A finding is {"id": "spark-analysis", "severity": "error", "error_class": ...,
"line": body line | None, "message": ...}. Errors that come from Spark (they carry an
error class: UNRESOLVED_COLUMN, DATATYPE_MISMATCH, WRONG_NUM_ARGS, AMBIGUOUS_REFERENCE,
...) and Python's NameError / AttributeError are findings. Any other exception may
come from the data being empty (a first() that is None, a division by a count of 0),
so it is a warning that the check could not finish, never a rejection.
"""
import json
import re
import traceback

import pinclock
import sparkrun

_DECIMAL = re.compile(r"^(?:numeric|decimal)\s*\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)$")
_BIT = re.compile(r"^bit\s*\(\s*(\d+)\s*\)$")


def spark_type(pg_type):
    """The Spark type a JDBC read gives a column of this PostgreSQL type."""
    from pyspark.sql import types as T
    t = (pg_type or "").strip().lower()
    if t.endswith("[]"):
        return T.ArrayType(spark_type(t[:-2]), True)
    t = re.sub(r"^(character varying|varchar|character|char|bpchar)\s*\(\s*\d+\s*\)$", r"\1", t)
    m = _DECIMAL.match(t)
    if m:
        return T.DecimalType(int(m.group(1)), int(m.group(2) or 0))
    m = _BIT.match(t)
    if m:
        return T.BooleanType() if m.group(1) == "1" else T.BinaryType()
    simple = {
        "smallint": T.ShortType(), "int2": T.ShortType(), "smallserial": T.ShortType(),
        "integer": T.IntegerType(), "int": T.IntegerType(), "int4": T.IntegerType(), "serial": T.IntegerType(),
        "bigint": T.LongType(), "int8": T.LongType(), "bigserial": T.LongType(),
        "real": T.FloatType(), "float4": T.FloatType(),
        "double precision": T.DoubleType(), "float8": T.DoubleType(),
        "numeric": T.DecimalType(38, 18), "decimal": T.DecimalType(38, 18),
        "boolean": T.BooleanType(), "bool": T.BooleanType(), "bit": T.BooleanType(),
        "bit varying": T.BinaryType(), "varbit": T.BinaryType(),
        "date": T.DateType(), "bytea": T.BinaryType(), "oid": T.DecimalType(20, 0),
    }
    if t in simple:
        return simple[t]
    if t.startswith("timestamp") or t.startswith("time"):
        return T.TimestampType()
    return T.StringType()


def struct(columns):
    from pyspark.sql import types as T
    return T.StructType([T.StructField(c["name"], spark_type(c.get("type")), bool(c.get("nullable", True)))
                         for c in columns])


def error_class(exc):
    for attr in ("getCondition", "getErrorClass"):
        fn = getattr(exc, attr, None)
        if fn:
            try:
                value = fn()
            except Exception:
                value = None
            if value:
                return value
    return None


def _body_line(exc, job_path, body_offset):
    """The line of the body (1-based) where exc was raised, from the traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == job_path:
            line = frame.lineno
    if line is None:
        return None
    return max(1, line - body_offset)


def _message(exc, cls):
    text = sparkrun.first_line(exc)
    if cls:
        # "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column ... SQLSTATE: 42703" -> the sentence.
        text = re.sub(r"^\[[A-Z0-9_.]+\]\s*", "", text)
        text = re.sub(r"\s*SQLSTATE: \w+\.?$", "", text)
        return "%s: %s" % (cls, text)
    return "%s: %s" % (type(exc).__name__, text)


# Empty frames by their columns, kept for the session: a warm check creates none. Each
# read_table call gets its own projection of it (fresh column ids, as two JDBC reads
# would have), so a self-join is not mistaken for an ambiguous one.
_frames = {}


def empty_frame(spark, columns):
    key = json.dumps(columns, sort_keys=True)
    if key not in _frames:
        _frames[key] = spark.createDataFrame([], struct(columns))
    frame = _frames[key]
    return frame.toDF(*frame.columns)


def check(spark, job_path, tables, params=None, body_offset=0):
    out = {"ok": True, "columns": [], "findings": [], "warnings": []}
    job = sparkrun.load_job(job_path)

    def read_table(name):
        columns = tables.get(name)
        if columns is None:
            raise NameError("read_table(%r): the schema snapshot has no such table" % (name,))
        return empty_frame(spark, columns)

    call_params = dict(params if params is not None else job.PARAMS)
    try:
        with pinclock.pinned(call_params.get("as_of"), job):
            df = job.transform(read_table, call_params)
            schema = df.schema  # analysis: resolves every column and type
        out["columns"] = [[f.name, f.dataType.simpleString()] for f in schema.fields]
    except Exception as exc:
        cls = error_class(exc)
        finding = {"id": "spark-analysis", "severity": "error", "error_class": cls,
                   "line": _body_line(exc, job_path, body_offset), "message": _message(exc, cls)}
        if cls or isinstance(exc, (NameError, AttributeError)):
            out["ok"] = False
            out["findings"].append(finding)
        else:
            out["warnings"].append("the plan check could not finish (it runs on empty tables): "
                                   + finding["message"])
    return out

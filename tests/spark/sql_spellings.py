#!/usr/bin/env python3
"""sql_spellings.py - which spellings of a SQL function call Spark really runs.

    .venv/bin/python tests/spark/sql_spellings.py > tests/lint_corpus/spark_spellings.json

Run once (it starts a local Spark, ~15 s) whenever the spellings or Spark change; the
output is checked in and tests/lua/lint_fuzz_spec.lua asserts that lint refuses every
spelling of a forbidden function that Spark ran, and passes every spelling of an
allowed one. Each call is harmless: java_method/reflect/try_reflect call
String.valueOf(7), so "ran" means the value came back.
"""
import json
import sys

from pyspark.sql import SparkSession

# {f} the name as written, {F} upper case, {m} mixed case, {a} the arguments,
# {u} the name with its first letter as a \\u escape, {h1}/{h2} the name in two halves.
TEMPLATES = [
    "{f}({a})", "`{f}`({a})", "{F}({a})", "{m}({a})",
    "{f} /* a /* nested */ comment */ ({a})", "{f} -- a comment\n ({a})",
    "{f}\n\t ({a})", "{f}/**/({a})", "{f}\u00a0({a})",
    "{f} -- a comment \\\n continued\n({a})",
    "system.builtin.{f}({a})", "builtin.{f}({a})", "`system`.`builtin`.`{f}`({a})",
    "SYSTEM.BUILTIN.{F}({a})", "system . builtin . {f}({a})",
    "IDENTIFIER('{f}')({a})", "IDENTIFIER('{u}')({a})", "IDENTIFIER('{h1}' '{h2}')({a})",
    "IDENTIFIER(\"{f}\")({a})", "IDENTIFIER(r'{f}')({a})",
    "IDENTIFIER('`system`.`builtin`.`{f}`')({a})", "IDENTIFIER('system.builtin.{f}')({a})",
]
FUNCTIONS = {
    "java_method": ("'java.lang.String', 'valueOf', 7", "7", "forbidden"),
    "reflect": ("'java.lang.String', 'valueOf', 7", "7", "forbidden"),
    "try_reflect": ("'java.lang.String', 'valueOf', 7", "7", "forbidden"),
    "upper": ("'abc'", "ABC", "allowed"),
    "date_add": ("DATE '2024-07-15', 1", "2024-07-16", "allowed"),
}


def mixed(name):
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))


def render(template, name, args):
    half = len(name) // 2
    return template.format(f=name, F=name.upper(), m=mixed(name), a=args,
                           u="\\u%04x%s" % (ord(name[0]), name[1:]),
                           h1=name[:half], h2=name[half:])


def main():
    spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("OFF")
    out = []
    for fn, (args, want, verdict) in sorted(FUNCTIONS.items()):
        for template in TEMPLATES:
            call = render(template, fn, args)
            try:
                got = str(spark.sql("SELECT %s AS x" % call).collect()[0][0])
                ran, error = got == want, None
            except Exception as e:  # Spark refused the spelling
                ran, error = False, str(e).strip().splitlines()[0][:160]
            out.append({"function": fn, "verdict": verdict, "template": template,
                        "call": call, "spark_ran": ran, "spark_error": error})
    json.dump({"spark": spark.version, "spellings": out}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    spark.stop()


if __name__ == "__main__":
    main()

# tests/spark/probe_body.py — a body that tries every way we know to read the job's
# secrets: the JVM's environment and system properties (through SQL's java_method, as a
# model could, and through py4j), the Spark conf, os.environ, /proc/*/environ and
# cmdline of this process and of its parent JVM, and the credentials hand-over file.
# It is rendered into a job WITHOUT the static checks (tests/spark/probe.lua): this is
# the second line of defence. Every finding becomes a row (where, text).
import os as _os

orders = read_table("orders")
spark = orders.sparkSession
found = [("orders read over JDBC", str(orders.count()))]


def add(where, text):
    found.append((where, str(text)))


def sql_value(query):
    return spark.sql(query).first()[0]


System = spark._jvm.java.lang.System
add("sql java_method getenv()", sql_value("SELECT java_method('java.lang.System', 'getenv') AS v"))
add("sql ${env:PATH}", sql_value("SELECT '${env:PATH}' AS v"))
add("sql ${spark.app.name}", sql_value("SELECT '${spark.app.name}' AS v"))
add("sql reflect getProperties()", sql_value("SELECT reflect('java.lang.System', 'getProperties') AS v"))
env_names = sorted(str(n) for n in System.getenv().keySet().toArray())
for name in env_names:
    add("getenv(%s)" % name, System.getenv(name))
add("sql getenv(name) for every name", " ".join(
    str(v) for v in spark.sql("SELECT " + ", ".join(
        "java_method('java.lang.System', 'getenv', '%s')" % n for n in env_names)).first()))
for name in sorted(str(n) for n in System.getProperties().stringPropertyNames().toArray()):
    add("getProperty(%s)" % name, System.getProperty(name))
add("spark conf", sorted(spark.sparkContext.getConf().getAll()))
add("os.environ", dict(_os.environ))
for pid in ("self", str(_os.getppid())):
    for part in ("environ", "cmdline"):
        try:
            with open("/proc/%s/%s" % (pid, part), "rb") as f:
                add("/proc/%s/%s" % ("self" if pid == "self" else "parent", part),
                    f.read().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError as exc:
            add("/proc/%s/%s" % (pid, part), "unreadable: %s" % exc)
for where, path in (("jvm", System.getenv("SPARKGEN_JDBC_FILE")),):
    try:
        with open(str(path)) as f:
            add("hand-over file (%s)" % where, f.read())
    except (OSError, TypeError) as exc:
        add("hand-over file (%s)" % where, "gone: %s" % type(exc).__name__)
result_df = spark.createDataFrame(found, "where string, text string")

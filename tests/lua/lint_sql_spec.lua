-- lint_sql_spec.lua — SQL text through the one reader (py/sqlread.py) and the
-- allow-list: every spelling Spark 4.3's lexer accepts for a function name is seen
-- through, statements other than one query, file reads, ${...} substitution and
-- script transforms are refused, and what the reader cannot follow fails closed.
local lint = require "sparkgen.lint"
local util = require "sparkgen.util"

local ROOT = os.getenv("SPARKGEN_HOME") or "."
local SCHEMA = assert(util.json_decode(assert(util.read_file(ROOT .. "/examples/shop/schema.json"))))

-- spark.sql is judged for teams whose job gives a body the session (it does not by
-- default): these checks run with allow_names = {"spark"}.
local function ids(code, policy)
  policy = util.deepcopy(policy or {})
  policy.allow_names = policy.allow_names or {"spark"}
  local report = assert(lint.check(code, {schema = SCHEMA, policy = policy}))
  local out = {}
  for _, f in ipairs(report.findings) do out[#out + 1] = f.id end
  return out, report
end

local function py(s) return util.python_string(s, '"') end

-- A body that runs `sql` through spark.sql over a registered view.
local function via_sql(sql)
  return ('o = read_table("orders")\no.createOrReplaceTempView("o")\nresult_df = spark.sql(%s)\n'):format(py(sql))
end

-- A body that runs `expr` through F.expr.
local function via_expr(expr)
  return ('o = read_table("orders")\no.createOrReplaceTempView("o")\nresult_df = o.withColumn("x", F.expr(%s))\n'):format(py(expr))
end

describe("SQL function names are read the way Spark reads them", function()
  local spellings = {
    "java_method('java.lang.System', 'getenv', 'X')",
    "`java_method`('java.lang.System', 'getenv', 'X')",
    "JaVa_MeThOd('java.lang.System', 'getenv', 'X')",
    "java_method /* a /* nested */ comment */ ('java.lang.System', 'getenv', 'X')",
    "java_method -- a line comment\n ('java.lang.System', 'getenv', 'X')",
    "java_method\n\t(r'java.lang.System', 'getenv', 'X')",
    "system.builtin.reflect('java.lang.System', 'getenv', 'X')",
    "builtin.java_method('java.lang.System', 'getenv', 'X')",
    "`system`.`builtin`.`reflect`('java.lang.System', 'getenv', 'X')",
    "IDENTIFIER('java_method')('java.lang.System', 'getenv', 'X')",
    "IDENTIFIER('java\\u005fmethod')('java.lang.System', 'getenv', 'X')",
    "IDENTIFIER('java' '_method')('java.lang.System', 'getenv', 'X')",
    "IDENTIFIER('`system`.builtin.try_reflect')('java.lang.System', 'getenv', 'X')",
    "upper((SELECT max(reflect('java.lang.System', 'getenv', 'X')) FROM o))",
  }
  for _, s in ipairs(spellings) do
    it("refuses " .. s:gsub("\n", "\\n"), function()
      assert.same({"forbidden-sql-function"}, (ids(via_sql("SELECT " .. s .. " AS x FROM o"))))
      assert.same({"forbidden-sql-function"}, (ids(via_expr(s))))
    end)
  end
  it("names the closest allowed function for an unknown one", function()
    local _, report = ids(via_expr("uper(customer_id)"))
    assert.equal("forbidden-sql-function", report.findings[1].id)
    assert.truthy(report.findings[1].message:find("unknown SQL function uper()", 1, true))
    assert.equal("upper", report.findings[1].suggestions[1])
  end)
  it("refuses a qualified name that is not a built-in", function()
    assert.same({"forbidden-sql-function"}, (ids(via_expr("main.default.upper(order_id)"))))
  end)
  it("allows built-in functions however they are spelled", function()
    for _, s in ipairs({"UPPER(order_id)", "`upper`(order_id)", "system.builtin.upper(order_id)",
                        "upper /* c */ (order_id)", "IDENTIFIER('upper')(order_id)",
                        "transform(array(1, 2), x -> x + 1)", "aggregate(array(1), 0, (acc, y) -> acc + y)"}) do
      assert.same({}, (ids(via_expr(s))), s)
    end
  end)
  it("allows a function the team adds with allow_sql_functions, and takes one off with forbid", function()
    assert.same({}, (ids(via_expr("my_udf(order_id)"), {allow_sql_functions = {"MY_UDF"}})))
    assert.same({"forbidden-sql-function"}, (ids(via_expr("upper(order_id)"), {forbid_sql_functions = {"upper"}})))
  end)
  it("refuses the Python twins of excluded functions through any alias", function()
    for _, code in ipairs({
      'o = read_table("orders")\nresult_df = o.withColumn("x", F.reflect(F.lit("a"), F.lit("b")))\n',
      'import pyspark.sql.functions as G\no = read_table("orders")\nresult_df = o.withColumn("x", G.java_method(F.lit("a"), F.lit("b")))\n',
      'from pyspark.sql.functions import try_reflect as tr\no = read_table("orders")\nresult_df = o.withColumn("x", tr(F.lit("a"), F.lit("b")))\n',
      'H = F\nm = H.xpath\no = read_table("orders")\nresult_df = o.withColumn("x", m(F.lit("a"), F.lit("b")))\n',
    }) do
      assert.same({"forbidden-sql-function"}, (ids(code)), code)
    end
  end)
  it("reads SQL through every alias of F.expr", function()
    local code = 'from pyspark.sql.functions import expr as e\no = read_table("orders")\nresult_df = o.withColumn("x", e("reflect(1)"))\n'
    assert.same({"forbidden-sql-function"}, (ids(code)))
  end)
  it("judges agg dict values and call_function names as function names", function()
    assert.same({"forbidden-sql-function"},
      (ids('o = read_table("orders")\nresult_df = o.groupBy("order_id").agg({"total_amount": "java_method"})\n')))
    assert.same({}, (ids('o = read_table("orders")\nresult_df = o.groupBy("order_id").agg({"total_amount": "sum"})\n')))
    assert.same({"forbidden-sql-function"},
      (ids('o = read_table("orders")\nresult_df = o.withColumn("x", F.call_function("`system`.builtin.reflect", F.lit("a")))\n')))
    assert.same({}, (ids('o = read_table("orders")\nresult_df = o.withColumn("x", F.call_function("upper", F.col("order_id")))\n')))
  end)
end)

describe("SQL statements, relations and rewriting", function()
  it("refuses statements other than one query", function()
    for _, s in ipairs({"SET spark.sql.ansi.enabled=false", "RESET", "ADD JAR /tmp/x.jar",
                        "CREATE TEMPORARY FUNCTION f AS 'x.Y' USING JAR '/tmp/x.jar'",
                        "CACHE TABLE o", "REFRESH TABLE o", "USE other", "EXECUTE IMMEDIATE 'SELECT 1'",
                        "DECLARE v INT", "SET VAR v = 1", "INSERT INTO o SELECT * FROM o",
                        "SELECT 1; SELECT 2", "/* x */ SET a=b", "WITH a AS (SELECT 1) INSERT INTO o SELECT * FROM a"}) do
      assert.same({"sql-not-select"}, (ids(via_sql(s))), s)
    end
  end)
  it("refuses a script transform but not the transform() function", function()
    assert.same({"sql-not-select"}, (ids(via_sql("SELECT TRANSFORM(order_id) USING 'cat' AS (x) FROM o"))))
    assert.same({}, (ids(via_sql("SELECT transform(array(order_id), x -> x + 1) AS y FROM o"))))
  end)
  it("refuses reads of anything but registered views and CTEs, in every FROM position", function()
    for _, s in ipairs({"SELECT * FROM parquet.`/tmp/x`", "SELECT * FROM o, text.`file:///etc/passwd`",
                        "SELECT * FROM o JOIN csv.`/etc/hosts` h ON true",
                        "SELECT * FROM (o JOIN `json`.`/x` j ON true)",
                        "SELECT (SELECT max(value) FROM text.`/etc/passwd`) AS x FROM o",
                        "SELECT order_id FROM o UNION TABLE text.`/etc/passwd`",
                        "SELECT * FROM o WHERE order_id IN (TABLE json.`/x`)",
                        "SELECT * FROM range(TABLE(csv.`/x`))"}) do
      assert.same({"forbidden-read"}, (ids(via_sql(s))), s)
    end
    assert.same({}, (ids(via_sql("WITH a AS (SELECT * FROM o), b (n) AS (SELECT 1) SELECT * FROM a, b, o"))))
    assert.same({}, (ids(via_sql("SELECT EXTRACT(YEAR FROM order_date) AS y, trim(BOTH ' ' FROM order_id) AS s FROM o WHERE order_id IS DISTINCT FROM 1"))))
  end)
  it("refuses table-valued functions off the allow-list and allows range()", function()
    assert.same({"forbidden-sql-function"}, (ids(via_sql("SELECT * FROM python_worker_logs()"))))
    assert.same({}, (ids(via_sql("SELECT * FROM range(3)"))))
  end)
  it("refuses ${...} substitution, which reads configuration and the environment", function()
    assert.same({"sql-unreadable"}, (ids(via_sql("SELECT '${env:SPARKGEN_JDBC_PASSWORD}' AS p FROM o"))))
    local code = 'o = read_table("orders")\nresult_df = o.selectExpr("\'${spark.app.name}\' AS n")\n'
    assert.same({"sql-unreadable"}, (ids(code)))
  end)
  it("fails closed on text it cannot read", function()
    for _, s in ipairs({"SELECT 'unterminated FROM o", "SELECT 1 /* open /* nested */ FROM o",
                        "SELECT `open FROM o", "SELECT 1 FROM", "SELECT (1 FROM o",
                        "SELECT \"java_method\"('a', 'b') FROM o", "SELECT \"system\".\"builtin\".\"reflect\"(1) FROM o"}) do
      assert.same({"sql-unreadable"}, (ids(via_sql(s))), s)
    end
  end)
  it("refuses the formatter form of spark.sql and interpolated names, allows interpolated values", function()
    local base = 'o = read_table("orders")\no.createOrReplaceTempView("o")\n'
    assert.same({"sql-unreadable"}, (ids(base .. 'result_df = spark.sql("SELECT * FROM {t}", t=o)\n')))
    assert.same({"sql-unreadable"}, (ids(base .. 'fn = "refl" + "ect"\nresult_df = spark.sql(f"SELECT {fn}(1) AS x FROM o")\n')))
    assert.same({"sql-unreadable"}, (ids(base .. 'x = "reflect(1)"\nresult_df = spark.sql(f"SELECT {x.strip()} AS y FROM o")\n')))
    assert.same({}, (ids(base .. 'start, end = period_bounds(params["time_period"], params["as_of"])\n'
      .. 'result_df = spark.sql(f"SELECT * FROM o WHERE order_date >= \'{start}\' AND order_date < \'{end}\'")\n')))
    assert.same({}, (ids(base .. 'day = params["as_of"].strftime("%Y-%m-%d")\n'
      .. 'result_df = spark.sql(f"SELECT * FROM o WHERE order_date < \'{day}\'")\n')))
    -- a value that carries text the code wrote is not a plain value
    for _, v in ipairs({'params.get("region", "${env:PGPASSWORD}")', 'params["as_of"].strftime("\'${env:X}")',
                        'max("${env:X}", "a")', 'str(params) + "x"'}) do
      assert.same({"sql-unreadable"}, (ids(base .. "v = " .. v .. "\n"
        .. 'result_df = spark.sql(f"SELECT \'{v}\' AS x FROM o")\n')), v)
    end
    assert.same({}, (ids(base .. 'result_df = spark.sql("SELECT * FROM o WHERE order_id > :n", args={"n": 3})\n')))
  end)
  it("refuses SQL-taking methods used other than by a direct call", function()
    assert.same({"sql-unreadable"}, (ids('q = spark.sql\nresult_df = q("SELECT reflect(1)")\n')))
    assert.same({"sql-unreadable"}, (ids('e = [F.expr][0]\no = read_table("orders")\nresult_df = o.withColumn("x", e("reflect(1)"))\n')))
  end)
  it("refuses filter text built by the code", function()
    assert.same({"sql-unreadable"}, (ids('o = read_table("orders")\ncond = "refl" + "ect(1) > 0"\nresult_df = o.filter(cond)\n')))
  end)
  it("reads hint parameters as expressions and knows Spark's hints", function()
    assert.same({"forbidden-sql-function"}, (ids(via_sql("SELECT /*+ REPARTITION(3, reflect('java.lang.System', 'getenv', 'X')) */ * FROM o"))))
    assert.same({}, (ids(via_sql("SELECT /*+ BROADCAST(o), REPARTITION(3) */ * FROM o"))))
    assert.same({"sql-unreadable"}, (ids(via_sql("SELECT /*+ BRODCAST(o) */ * FROM o"))))
    assert.same({}, (ids('o = read_table("orders")\nresult_df = o.hint("broadcast")\n')))
    assert.same({"sql-unreadable"}, (ids('o = read_table("orders")\nresult_df = o.hint("nope")\n')))
  end)
  it("warns about the clock in SQL text and in Python", function()
    assert.same({"wall-clock"}, (ids(via_expr("date_sub(current_date(), 1)"))))
    assert.same({"wall-clock"}, (ids(via_sql("SELECT current_timestamp AS t FROM o"))))
    assert.same({"wall-clock"}, (ids('o = read_table("orders")\nresult_df = o.withColumn("t", F.now())\n')))
    assert.same({}, (ids('o = read_table("orders")\nresult_df = o.withColumn("t", F.unix_timestamp(F.col("order_date")))\n')))
  end)
end)

-- lint/python.lua — the rules over the Python facts py/analyze.py reports: imports,
-- the names a body may use (an allow-list: what the job gives it plus harmless
-- builtins), introspection, UDFs and other Python shipped to executors, APIs Spark
-- Connect lacks, the session, reads and writes outside read_table, the clock.
--   python.check(collector, facts, policy)   adds findings to the collector
--   python.BODY_NAMES, python.BUILTINS      the free names allowed by default
local util = require "sparkgen.util"
local NAMES = require "sparkgen.lint.pyspark_names"

local M = {}

local set_of = util.set_of

-- What templates/job.py gives transform(read_table, params) at module level and in its
-- arguments (py/sparkrun.py imports the same job module). `spark` is not among them:
-- the session is a local of the job's main(); a team whose job provides it adds
-- allow_names = {"spark"} (then only spark.sql/createDataFrame/range may be used).
M.BODY_NAMES = {"read_table", "params", "F", "T", "Window", "period_bounds", "date",
                "datetime", "timedelta", "Decimal", "result_df"}
-- Builtins with no way to reach files, the interpreter or attributes by name.
M.BUILTINS = {"abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float",
              "frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "next",
              "iter", "pow", "range", "reversed", "round", "set", "slice", "sorted", "str",
              "sum", "tuple", "zip", "chr", "ord", "bytes", "complex", "callable",
              "Exception", "ValueError", "TypeError", "KeyError", "IndexError",
              "ZeroDivisionError", "ArithmeticError", "LookupError", "RuntimeError",
              "StopIteration", "AssertionError", "NotImplementedError", "None", "True",
              "False", "Ellipsis", "NotImplemented"}
local ALLOWED_NAMES = set_of(M.BODY_NAMES)
for _, n in ipairs(M.BUILTINS) do ALLOWED_NAMES[n] = true end

-- pyspark modules a body may import, and the names it may take from each (true: any
-- member, judged where it is used).
local PYSPARK_IMPORTS = {
  ["pyspark.sql.functions"] = true, ["pyspark.sql.types"] = true,
  ["pyspark.sql.window"] = set_of({"Window"}), ["pyspark.sql.column"] = set_of({"Column"}),
  ["pyspark.sql.dataframe"] = set_of({"DataFrame"}),
  ["pyspark.sql"] = set_of({"functions", "types", "Window", "Column", "DataFrame", "Row"}),
}

local API = {F = NAMES.members("F"), T = NAMES.members("T"), Window = NAMES.members("Window")}
local UDF = set_of(NAMES.udf_constructors)
local SPARK = set_of(NAMES.spark)
local WALL_CLOCK_CALLS = set_of({"date.today", "datetime.now", "datetime.today", "datetime.utcnow",
                                 "datetime.datetime.now", "datetime.datetime.today",
                                 "datetime.date.today", "datetime.datetime.utcnow"})
local EXECUTOR = set_of({"mapInPandas", "mapInArrow", "applyInPandas", "applyInArrow",
                         "applyInPandasWithState", "applyInArrowWithState", "transformWithState",
                         "transformWithStateInPandas", "foreach", "foreachPartition",
                         "foreachBatch", "pandas_api", "udf", "udtf", "dataSource",
                         "registerJavaFunction", "registerJavaUDAF"})
-- reads and the JVM are reported by their own rules; the rest of spark.* here
local SPARK_REPORTED_ELSEWHERE = set_of({"read", "readStream", "table", "sparkContext",
                                         "udf", "udtf", "dataSource", "sql_ctx", "_jvm",
                                         "_jsparkSession", "_sc", "_jsc"})

local function check_imports(c, facts, policy)
  for _, imp in ipairs(facts.imports) do
    local mod = imp.module
    local top = mod:match("^[^.]*")
    local alias = imp.alias ~= util.json_null and imp.alias or nil
    if imp.level > 0 then
      c:add("forbidden-import", imp.line, imp.col, "relative imports are not allowed")
    elseif #imp.names > 0 and imp.names[1] == "*" then
      if top == "pyspark" or policy.allow_imports_set[top] then
        c:add("star-import", imp.line, imp.col,
          ("'from %s import *' is not allowed: import the names you use explicitly (F, T and Window are already there)"):format(mod))
      else
        c:add("forbidden-import", imp.line, imp.col, ("import of '%s' is not allowed"):format(mod))
      end
    elseif top == "pyspark" and not policy.allow_imports_set[mod] then
      local allowed = PYSPARK_IMPORTS[mod]
      if not allowed then
        c:add("forbidden-import", imp.line, imp.col,
          ("import of '%s' is not allowed (from pyspark: pyspark.sql.functions, pyspark.sql.types, Window, Column, DataFrame, Row)"):format(mod))
      elseif #imp.names == 0 and not alias then
        c:add("forbidden-import", imp.line, imp.col,
          ("'import %s' binds the name 'pyspark', which reaches the whole of pyspark; write 'import %s as NAME'"):format(mod, mod))
      elseif allowed ~= true then
        for _, name in ipairs(imp.names) do
          if not allowed[name] then
            c:add("forbidden-import", imp.line, imp.col,
              ("'%s' may not be imported from %s"):format(name, mod), util.closest(name, util.sorted_keys(allowed)), name)
          end
        end
      end
    elseif top ~= "pyspark" and not policy.allow_imports_set[top] and not policy.allow_imports_set[mod] then
      c:add("forbidden-import", imp.line, imp.col,
        ("import of '%s' is not allowed (allowed: %s)"):format(mod, table.concat(policy.allow_imports, ", ")))
    else
      for _, name in ipairs(imp.names) do
        if policy.forbid_names_set[name] and not policy.allow_names_set[name] then
          c:add("forbidden-import", imp.line, imp.col,
            ("'%s' may not be imported (no shell, file, network or dynamic code)"):format(name), nil, name)
        end
      end
    end
  end
end

local function check_names(c, facts, policy)
  local pool
  for _, n in ipairs(facts.free_names) do
    if policy.forbid_names_set[n.name] then
      c:add("forbidden-call", n.line, n.col,
        ("'%s' is not allowed in generated code (no shell, file, network or dynamic code)"):format(n.name))
    elseif not ALLOWED_NAMES[n.name] and not policy.allow_names_set[n.name] then
      if not pool then
        pool = util.sorted_keys(ALLOWED_NAMES)
        for _, a in ipairs(policy.allow_names) do pool[#pool + 1] = a end
      end
      local why = n.name == "spark"
        and "the job does not give a body the session: read with read_table() and use the DataFrame API"
        or "a body may use only what the job gives it (read_table, params, F, T, Window, period_bounds, date, datetime, timedelta, Decimal) and plain builtins"
      c:add("unknown-name", n.line, n.col, ("name '%s' is not defined in a body: %s"):format(n.name, why),
        n.name ~= "spark" and util.closest(n.name, pool) or {})
    end
  end
end

local function check_reach(c, facts, policy)
  for _, d in ipairs(facts.private_attrs) do
    local why = d.name:match("^__.*__$") and "introspection can reach anything"
      or "private attributes reach Spark's JVM and Python internals"
    c:add("forbidden-call", d.line, d.col, ("attribute '%s' is not allowed (%s)"):format(d.name, why),
      nil, "private")
  end
  for _, r in ipairs(facts.api_refs or {}) do
    local members = API[r.api]
    if r.api == "F" and UDF[r.name] then
      c:add("python-udf", r.line, r.col,
        ("F.%s makes a Python UDF: its code runs on the executors, out of reach of these checks; use built-in functions"):format(r.name))
    elseif members and not members[r.name] then
      c:add("forbidden-call", r.line, r.col,
        ("%s.%s is not a member of %s a body may use"):format(r.api, r.name,
          r.api == "F" and "pyspark.sql.functions" or r.api == "T" and "pyspark.sql.types" or "Window"),
        util.closest(r.name, util.sorted_keys(members)))
    end
  end
  for _, a in ipairs(facts.api_attrs or {}) do
    if EXECUTOR[a.name] then
      c:add("python-udf", a.line, a.col,
        ("'%s' ships Python code to the executors, out of reach of these checks; use built-in functions and the DataFrame API"):format(a.name),
        nil, a.name)
    elseif a.name == "sparkSession" then
      c:add("forbidden-call", a.line, a.col,
        "'.sparkSession' reaches the session (its configuration, catalog and readers); a body uses read_table() and the DataFrame API",
        nil, a.name)
    else
      c:add("connect-incompatible", a.line, a.col,
        ("'%s' needs the JVM-backed classic API: Spark Connect has no SparkContext, RDDs or JVM handles (and it reaches Spark's internals)"):format(a.name),
        nil, a.name)
    end
  end
  for _, r in ipairs(facts.spark_refs or {}) do
    if policy.allow_names_set.spark and not SPARK[r.name] and not SPARK_REPORTED_ELSEWHERE[r.name]
        and not policy.forbid_calls_set["spark." .. r.name] then
      c:add("forbidden-call", r.line, r.col,
        ("spark.%s is not available to a body (allowed: %s)"):format(r.name, table.concat(NAMES.spark, ", ")),
        util.closest(r.name, NAMES.spark), r.name)
    end
  end
  for _, m in ipairs(facts.module_attrs or {}) do
    c:add("forbidden-call", m.line, m.col, ("%s.%s is not allowed: %s"):format(m.module, m.attr, m.why),
      nil, m.attr)
  end
  for _, f in ipairs(facts.formats or {}) do
    c:add("forbidden-call", f.line, f.col, f.problem, nil, "format")
  end
  for _, s in ipairs(facts.syntax or {}) do
    local what = ({decorator = "decorators", class = "class definitions", global = "'global'",
                   nonlocal = "'nonlocal'", async = "async code"})[s.what] or s.what
    c:add("forbidden-syntax", s.line, s.col,
      ("%s are not allowed in a body (plain functions, expressions and assignments are)"):format(what),
      nil, s.what)
  end
end

local function check_calls(c, facts, policy)
  for _, call in ipairs(facts.calls) do
    local method = call.name:match("%.([^.]+)$")
    if policy.forbid_calls_set[call.name] or (method and policy.forbid_methods_set[method]) then
      c:add("forbidden-call", call.line, call.col,
        ("%s() is not allowed in generated code"):format(call.name:gsub("^<expr>", "")))
    elseif WALL_CLOCK_CALLS[call.name] then
      c:add("wall-clock", call.line, call.col,
        ("%s() reads the clock: use params[\"as_of\"] (the date the job is run for) so a re-run gives the same answer"):format(call.name),
        nil, call.name)
    end
  end
  for _, r in ipairs(facts.read_table_refs) do
    c:add("read-table-not-literal", r.line, r.col,
      "read_table may only be called directly, with a literal table name")
  end
  for _, w in ipairs(facts.writes) do
    c:add("write-forbidden", w.line, w.col,
      ("'%s' writes data; generated code may only read with read_table() and assign result_df"):format(w.method),
      nil, "")
  end
  for _, r in ipairs(facts.reads) do
    c:add("forbidden-read", r.line, r.col,
      ("'%s' reads data outside read_table(); tables may only be read with read_table(\"name\")"):format(r.kind),
      nil, "")
  end
end

function M.check(c, facts, policy)
  check_imports(c, facts, policy)
  check_names(c, facts, policy)
  check_reach(c, facts, policy)
  check_calls(c, facts, policy)
end

return M

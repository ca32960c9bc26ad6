-- lint/sql.lua — the rules over the SQL facts py/sqlread.py reports (see
-- docs/internals.md, "The static gate"): functions against the allow-list in
-- lint/sql_functions.lua and the policy, relations against the registered views,
-- spark.sql against "one query", and the Python twins of the excluded functions.
--   sql.check(collector, facts, policy)   adds findings to the collector
--   sql.function_problem(fn, policy, tvf?) -> nil | message, suggestions
local util = require "sparkgen.util"

local M = {}

local set_of = util.set_of

local SQL = require "sparkgen.lint.sql_functions"
local SQL_ALLOWED, SQL_TVF, SQL_CLOCK = set_of(SQL.functions), set_of(SQL.table_functions),
  set_of(SQL.wall_clock)
-- Qualifiers that still name a built-in function: system.builtin.abs, builtin.abs.
local BUILTIN_QUALIFIER = {["builtin"] = true, ["system.builtin"] = true}
local SESSION_QUALIFIER = {["session"] = true, ["system.session"] = true}
-- Spark 4.3's join and partitioning hints (SQL /*+ ... */ and DataFrame.hint).
M.HINTS = {"BROADCAST", "BROADCASTJOIN", "MAPJOIN", "MERGE", "SHUFFLE_MERGE", "MERGEJOIN",
           "SHUFFLE_HASH", "SHUFFLE_REPLICATE_NL", "COALESCE", "REPARTITION",
           "REPARTITION_BY_RANGE", "REBALANCE"}
local HINTS = set_of(M.HINTS)

-- nil when the SQL function `fn` ({name, qualifier}) may be called, else message and
-- suggestions. `tvf`: judged as a table-valued function (FROM range(10)).
function M.function_problem(fn, policy, tvf)
  local name, qual = fn.name, fn.qualifier
  if qual == util.json_null then qual = nil end
  local shown = qual and (qual .. "." .. name) or name
  local extra = policy.allow_sql_functions_set
  if extra[shown] then return nil end
  if qual and not BUILTIN_QUALIFIER[qual] and not (SESSION_QUALIFIER[qual] and extra[name]) then
    return ("SQL function %s() is not a built-in function (only built-ins and the names in lint.allow_sql_functions may be called)"):format(shown), {}
  end
  if policy.forbid_sql_functions_set[name] then
    return ("SQL function %s() is forbidden by lint.forbid_sql_functions"):format(shown), {}
  end
  if extra[name] then return nil end
  local allowed = tvf and SQL_TVF or SQL_ALLOWED
  if allowed[name] then return nil end
  if SQL.excluded[name] then
    return ("SQL function %s() is not allowed: it %s"):format(shown, SQL.excluded[name]), {}
  end
  if not tvf and SQL_TVF[name] == nil and SQL_ALLOWED[name] == nil then
    local pool = {}
    for _, n in ipairs(SQL.functions) do pool[#pool + 1] = n end
    for _, n in ipairs(policy.allow_sql_functions) do pool[#pool + 1] = n end
    return ("unknown SQL function %s() (not on the allow-list of Spark SQL functions)"):format(shown),
      util.closest(name, pool)
  end
  return ("%s() may not be used as a table (allowed in FROM: %s)"):format(shown,
    table.concat(SQL.table_functions, ", ")), util.closest(name, SQL.table_functions)
end

function M.check(c, facts, policy)
  local views = {}
  for _, v in ipairs(facts.temp_views) do views[v.name:lower()] = true end
  for _, q in ipairs(facts.sql) do
    local err = q.error ~= util.json_null and q.error or nil
    if err then
      c:add("sql-unreadable", q.line, q.col, ("%s text: %s"):format(q.context, err))
      goto next_sql
    end
    if q.text == nil or q.text == util.json_null then
      local what = (q.context == "agg" or q.context:find("call_", 1, true))
        and "a function name given as a literal string" or "a literal string (or an f-string of plain values)"
      c:add("sql-unreadable", q.line, q.col,
        ("%s needs %s so that it can be checked"):format(q.context, what))
      goto next_sql
    end
    for _, h in ipairs(q.hints or {}) do
      if not HINTS[h] then
        c:add("sql-unreadable", q.line, q.col, ("unknown hint %s (Spark's hints: %s)"):format(h,
          table.concat(M.HINTS, ", ")), util.closest(h, M.HINTS), h)
      end
    end
    if q.substitution then
      c:add("sql-unreadable", q.line, q.col,
        ("%s text contains ${...}: Spark replaces it before parsing with configuration values, JVM system properties or environment variables (${env:NAME})"):format(q.context))
    end
    local statement_ok = true
    if q.context == "spark.sql" then
      statement_ok = false
      local kind = q.kind ~= util.json_null and q.kind or nil
      if (q.statements or 0) > 1 then
        c:add("sql-not-select", q.line, q.col, "spark.sql must run a single statement")
      elseif kind ~= "SELECT" and kind ~= "WITH" then
        c:add("sql-not-select", q.line, q.col,
          ("spark.sql may only run a SELECT or WITH query, not %s"):format(kind and kind:upper() or "this statement"))
      elseif #(q.denied or {}) > 0 then
        c:add("sql-not-select", q.line, q.col,
          ("spark.sql may only read: %s is not allowed"):format(q.denied[1]))
      elseif not q.query then
        c:add("sql-not-select", q.line, q.col, "spark.sql may only run one SELECT or WITH ... SELECT query")
      else
        statement_ok = true
      end
    end
    if q.script then
      c:add("sql-not-select", q.line, q.col,
        "TRANSFORM ... USING 'command' runs a program on every executor; use SQL functions or the DataFrame API")
    end
    for _, fn in ipairs(q.functions or {}) do
      local msg, sugg = M.function_problem(fn, policy, false)
      if msg then
        c:add("forbidden-sql-function", fn.line or q.line, q.col, msg, sugg, fn.name .. tostring(fn.qualifier))
      elseif SQL_CLOCK[fn.name] and (fn.name ~= "unix_timestamp" or not fn.args) then
        c:add("wall-clock", fn.line or q.line, q.col,
          ("%s reads the clock: use params[\"as_of\"] (the date the job is run for) so a re-run gives the same answer"):format(fn.name),
          nil, fn.name)
      end
    end
    for _, fn in ipairs(q.table_functions or {}) do
      local msg, sugg = M.function_problem(fn, policy, true)
      if msg then c:add("forbidden-sql-function", fn.line or q.line, q.col, msg, sugg, fn.name) end
    end
    local ctes = set_of(q.ctes)
    for _, rel in ipairs(statement_ok and q.relations or {}) do
      if not views[rel.name] and not ctes[rel.name] then
        c:add("forbidden-read", rel.line or q.line, q.col,
          ("SQL reads '%s', which is not a view registered from a read_table() frame"):format(rel.name))
      end
    end
    ::next_sql::
  end
  -- pyspark.sql.functions, through any alias: the Python twins of the SQL functions
  for _, r in ipairs(facts.api_refs or {}) do
    local lname = r.name:lower()
    if r.api ~= "F" then
      -- T and Window members are judged with the Python policy
    elseif SQL.excluded[lname] and not policy.allow_sql_functions_set[lname] then
      c:add("forbidden-sql-function", r.line, r.col,
        ("F.%s is not allowed: it %s"):format(r.name, SQL.excluded[lname]), nil, r.name)
    elseif policy.forbid_sql_functions_set[lname] then
      c:add("forbidden-sql-function", r.line, r.col,
        ("F.%s is forbidden by lint.forbid_sql_functions"):format(r.name), nil, r.name)
    elseif (r.name == "expr" or r.name == "call_function" or r.name == "call_udf") and not r.called then
      c:add("sql-unreadable", r.line, r.col,
        ("F.%s may only be called directly (with a literal argument), so that what it gets can be checked"):format(r.name))
    elseif SQL_CLOCK[lname] and r.called and (lname ~= "unix_timestamp" or r.nargs == 0) then
      c:add("wall-clock", r.line, r.col,
        ("F.%s() reads the clock: use params[\"as_of\"] (the date the job is run for) so a re-run gives the same answer"):format(r.name),
        nil, r.name)
    end
  end
  for _, r in ipairs(facts.sql_refs or {}) do
    c:add("sql-unreadable", r.line, r.col,
      (".%s may only be called directly, so that the SQL text it gets can be checked"):format(r.name))
  end
end

return M

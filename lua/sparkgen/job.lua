-- job.lua — renders a GeneratedCode result into a complete, spark-submit-ready PySpark
-- job (templates/job.py). Everything request-specific is turned into Python literals
-- here, so the template only arranges text and the job file holds no secret: the JDBC
-- URL and credentials are handed over when the job runs (spark.lua, take_credentials).
local template = require "sparkgen.template"
local util = require "sparkgen.util"

local M = {}

--- A Python literal for a Lua value (strings, numbers, booleans, nil/json null, dates
--- given as {date = "YYYY-MM-DD"}, arrays and string-keyed maps, keys sorted).
function M.py_literal(v)
  local tv = type(v)
  if v == nil or v == util.json_null then return "None" end
  if tv == "boolean" then return v and "True" or "False" end
  if tv == "number" then
    if math.type(v) == "integer" then return ("%d"):format(v) end
    if v ~= v then return 'float("nan")' end
    if v == math.huge then return 'float("inf")' end
    if v == -math.huge then return 'float("-inf")' end
    return ("%.17g"):format(v)
  end
  if tv == "string" then
    -- Python source is UTF-8, so only quotes, backslashes and control characters
    -- need escapes; cjson's "\/" would be an invalid escape warning in Python 3.12.
    return util.python_string(v, '"')
  end
  if tv == "table" then
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    if n == 1 and v.date ~= nil then
      local y, m, d = tostring(v.date):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
      if not y then error("not an ISO date: " .. tostring(v.date), 2) end
      return ("date(%d, %d, %d)"):format(tonumber(y), tonumber(m), tonumber(d))
    end
    if getmetatable(v) == util.ARRAY_MT or (n > 0 and n == #v) then
      local out = {}
      for i = 1, #v do out[i] = M.py_literal(v[i]) end
      return "[" .. table.concat(out, ", ") .. "]"
    end
    local out = {}
    for _, k in ipairs(util.sorted_keys(v)) do
      out[#out + 1] = M.py_literal(tostring(k)) .. ": " .. M.py_literal(v[k])
    end
    return "{" .. table.concat(out, ", ") .. "}"
  end
  error("cannot express a " .. tv .. " as a Python literal", 2)
end

-- Coerce one context value to the type its parameter declares (the CLI hands strings).
local function typed_value(value, decl)
  local kind = decl and decl.type
  if value == nil or value == util.json_null then return nil end
  if kind == "date" then
    if type(value) == "table" and value.date then return value end
    return {date = tostring(value)}
  elseif kind == "integer" then
    return math.tointeger(tonumber(value)) or value
  elseif kind == "number" then
    return tonumber(value) or value
  elseif kind == "boolean" then
    if type(value) == "boolean" then return value end
    local s = tostring(value):lower()
    if s == "true" or s == "1" or s == "yes" or s == "on" then return true end
    if s == "false" or s == "0" or s == "no" or s == "off" then return false end
    return value
  end
  return value
end

--- The PARAMS dict literal: the resolved context with declared types (dates become
--- datetime.date; `as_of` is always a date, declared or not).
function M.params_literal(context, typedef)
  local params = {}
  local decls = typedef and typedef.params or {}
  for k, v in pairs(context or {}) do
    local decl = decls[k]
    if not decl and k == "as_of" then decl = {type = "date"} end
    params[k] = typed_value(v, decl)
  end
  if next(params) == nil then return "{}" end
  return M.py_literal(params)
end

local function quote_ident(name)
  local ok, schema = pcall(require, "sparkgen.schema")
  if ok and type(schema) == "table" and type(schema.quote_ident) == "function" then
    return schema.quote_ident(name)
  end
  return '"' .. name:gsub('"', '""') .. '"'
end

-- Partition bounds for a big table: its stats when rows >= spark.partition_rows.
local function partition_info(S, t, spark_cfg)
  local rows = tonumber(t.rows)
  if not rows or rows < (spark_cfg.partition_rows or math.huge) then return nil end
  local stats = t.stats
  if not stats and S and type(S.stats) == "function" then
    local ok, st = pcall(S.stats, S, t)
    if ok then stats = st end
  end
  if type(stats) ~= "table" or not stats.partition_column then return nil end
  local lower, upper = tonumber(stats.lower), tonumber(stats.upper)
  if not lower or not upper or upper <= lower then return nil end
  return {partition_column = stats.partition_column, lower = math.tointeger(lower) or lower,
          upper = math.tointeger(upper) or upper, num_partitions = spark_cfg.num_partitions or 8}
end

--- The TABLES dict: for each name the body may pass to read_table, the quoted physical
--- name and, for big tables, the partitioned-read options.
function M.tables_literal(names, S, spark_cfg)
  local tables = {}
  for _, name in ipairs(names or {}) do
    local t = S and S.table and S:table(name)
    local entry
    if t then
      entry = {dbtable = quote_ident(t.schema or "public") .. "." .. quote_ident(t.name)}
      local part = partition_info(S, t, spark_cfg or {})
      if part then for k, v in pairs(part) do entry[k] = v end end
      tables[name] = entry
      tables[(t.schema or "public") .. "." .. t.name] = entry
    else
      local sch, rel = name:match("^([^.]+)%.(.+)$")
      entry = {dbtable = sch and (quote_ident(sch) .. "." .. quote_ident(rel)) or quote_ident(name)}
      tables[name] = entry
    end
  end
  if next(tables) == nil then return "{}" end
  local lines = {}
  for _, k in ipairs(util.sorted_keys(tables)) do
    lines[#lines + 1] = "    " .. M.py_literal(k) .. ": " .. M.py_literal(tables[k]) .. ","
  end
  return "{\n" .. table.concat(lines, "\n") .. "\n}"
end

-- Python's string syntax, enough to know where literals start and end: an optional
-- prefix (r, b, f, u, combined), then ' " ''' or """; a backslash escapes the next
-- character (in raw strings too, as far as ending the literal goes); # starts a comment
-- outside strings. Returns, per line, whether the line starts inside a string literal
-- and whether it ends inside one.
local function scan_lines(code)
  local lines, info = {}, {}
  for line in (code .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = line end
  local quote = nil -- the closing delimiter of the open literal
  for n, line in ipairs(lines) do
    local starts = quote ~= nil
    local i, len = 1, #line
    while i <= len do
      local c = line:sub(i, i)
      if quote then
        if c == "\\" then
          i = i + 2
        elseif line:sub(i, i + #quote - 1) == quote then
          i, quote = i + #quote, nil
        else
          i = i + 1
        end
      elseif c == "#" then
        break
      elseif c == "'" or c == '"' then
        quote = line:sub(i, i + 2) == c:rep(3) and c:rep(3) or c
        i = i + #quote
      else
        i = i + 1
      end
    end
    -- A one-line literal ends with its line, unless a backslash continues it.
    if quote and #quote == 1 and line:sub(-1) ~= "\\" then quote = nil end
    info[n] = {text = line, starts_in_string = starts, ends_in_string = quote ~= nil}
  end
  return info
end

--- Problems that would keep the body from compiling inside a function, as findings
--- ({id, severity, line, message}): today `from X import *`, which Python allows only
--- at module level. Lines inside string literals are not code and are not looked at.
function M.body_findings(code)
  local out = {}
  for n, l in ipairs(scan_lines(code or "")) do
    if not l.starts_in_string then
      local module = l.text:match("^%s*from%s+([%w_.]+)%s+import%s+%*")
      if module then
        out[#out + 1] = {id = "star-import", severity = "error", line = n,
          message = ("`from %s import *` cannot run inside the job's transform() (Python allows it only " ..
            "at module level): use the `F` module (F.col, F.sum) or import the names you need"):format(module)}
      end
    end
  end
  return out
end

--- The body as the inside of `def transform(read_table, params):`. Code lines are
--- indented by four spaces and lose trailing blanks; a line that starts inside a
--- multi-line string literal is copied unchanged, and a line that ends inside one keeps
--- its trailing blanks, so no string literal changes.
function M.indent_body(code)
  local out = {}
  for _, l in ipairs(scan_lines(code or "")) do
    local line = l.text
    if l.starts_in_string then
      out[#out + 1] = line
    else
      if not l.ends_in_string then line = line:gsub("%s+$", "") end
      out[#out + 1] = line == "" and "" or ("    " .. line)
    end
  end
  while #out > 0 and out[#out] == "" do out[#out] = nil end
  while #out > 0 and out[1] == "" do table.remove(out, 1) end
  if #out == 0 then return "    result_df = None" end
  return table.concat(out, "\n")
end

-- A check's name as the job reports it: the rule, qualified by its columns when the
-- same rule appears more than once.
local function check_names(checks)
  local count, names = {}, {}
  for _, c in ipairs(checks) do count[c.rule] = (count[c.rule] or 0) + 1 end
  for i, c in ipairs(checks) do
    local name = c.rule
    if count[c.rule] > 1 then
      local cols = c.column or (type(c.columns) == "table" and table.concat(c.columns, ",")) or tostring(i)
      name = ("%s(%s)"):format(c.rule, cols)
    end
    names[i] = name
  end
  return names
end

--- The CHECKS list entries. Returns text or nil, message.
function M.checks_literal(all)
  -- A note (a check the model wrote as prose) is printed in the header, never run.
  local checks = {}
  for _, c in ipairs(all or {}) do
    if c.rule ~= "note" then checks[#checks + 1] = c end
  end
  if #checks == 0 then return "" end
  local ok, lib = pcall(require, "sparkgen.checks")
  if not ok then return nil, "validation checks need sparkgen.checks: " .. tostring(lib) end
  local names = check_names(checks)
  local lines = {}
  for i, c in ipairs(checks) do
    local expr, err = lib.pyspark(c)
    if not expr then return nil, ("check %s: %s"):format(names[i], tostring(err)) end
    local description = c.description
    if not description and lib.describe then description = lib.describe(c) end
    lines[#lines + 1] = ("    (%s, %s,\n     lambda df: %s),"):format(
      M.py_literal(names[i]), M.py_literal(description or c.rule), (expr:gsub("\n", "\n     ")))
  end
  return table.concat(lines, "\n")
end

local function comment(text)
  local out = {}
  for line in (tostring(text) .. "\n"):gmatch("(.-)\r?\n") do out[#out + 1] = "#   " .. line end
  return table.concat(out, "\n")
end

-- JSON results carry cjson.null for absent values (model of a template result).
local function present(v)
  return v ~= nil and v ~= util.json_null and v ~= ""
end

local function header(result)
  local req = result.request or {}
  local lines = {}
  local ctx = {}
  for _, k in ipairs(util.sorted_keys(req.context or {})) do
    ctx[#ctx + 1] = ("%s=%s"):format(k, tostring(req.context[k]))
  end
  lines[#lines + 1] = ("# Request: source=%s%s%s"):format(tostring(req.source or "-"),
    present(req.type) and (" type=" .. req.type) or "", #ctx > 0 and (" " .. table.concat(ctx, " ")) or "")
  if present(req.text) then lines[#lines + 1] = "# Text:\n" .. comment(req.text) end
  if present(result.description) then
    lines[#lines + 1] = "# Description:\n" .. comment(result.description)
  end
  lines[#lines + 1] = ("# Provider: %s%s"):format(present(result.provider) and result.provider or "unknown",
    present(result.model) and (" (" .. tostring(result.model) .. ")") or "")
  lines[#lines + 1] = "# Generated at: " .. util.timestamp()
  lines[#lines + 1] = "# Tables: " .. table.concat(result.tables_used or {}, ", ")
  local checks = result.validation_checks or {}
  if #checks > 0 then
    lines[#lines + 1] = "# Checks:"
    for _, c in ipairs(checks) do
      lines[#lines + 1] = "#   - " .. (c.rule == "note" and "(note, not checked) " or "")
        .. tostring(c.description or c.rule):gsub("\n", " ")
    end
  end
  return table.concat(lines, "\n")
end

--- render(result, {cfg = cfg, schema = S|nil, typedef = typedef|nil, filename = name|nil})
--- → job text, or nil, message[, finding] (a finding when the body itself cannot be
--- embedded, see body_findings).
function M.render(result, opts)
  assert(type(result) == "table", "job.render: result must be a table")
  opts = opts or {}
  local problem = M.body_findings(result.code)[1]
  if problem then
    return nil, ("line %d: %s: %s"):format(problem.line, problem.id, problem.message), problem
  end
  local cfg = opts.cfg or {}
  local spark_cfg = cfg.spark or {}
  local req = result.request or {}
  local checks, cerr = M.checks_literal(result.validation_checks)
  if not checks then return nil, cerr end
  local names = {}
  for _, n in ipairs(result.tables_used or {}) do names[#names + 1] = n end
  local ok, tables = pcall(M.tables_literal, names, opts.schema, spark_cfg)
  if not ok then return nil, "job tables: " .. tostring(tables) end
  local summary = present(req.type) and ("sparkgen job: " .. req.type) or "sparkgen job"
  local env = {
    version = opts.version and ("sparkgen " .. opts.version) or "sparkgen",
    header = header(result),
    packages = spark_cfg.packages or "org.postgresql:postgresql:42.7.14",
    filename = opts.filename or "job.py",
    params = M.params_literal(req.context, opts.typedef),
    fetch_size = ("%d"):format(math.tointeger(spark_cfg.fetch_size) or 10000),
    single_file_rows = ("%d"):format(math.tointeger(spark_cfg.single_file_rows) or 1000000),
    tables = tables,
    body = M.indent_body(result.code),
    checks = checks,
    summary = M.py_literal(summary),
    app_name = M.py_literal(summary),
  }
  local text, err = template.render("templates", "job.py", env)
  if not text then return nil, err end
  return text
end

--- Render the job for a result with the schema and type cfg resolves, and write it
--- to path. Returns true or nil, message.
function M.write(result, path, cfg)
  local generator = require "sparkgen.generator"
  local types = require "sparkgen.types"
  local S = generator.schema(cfg)
  local typedef = result.request.type and types.get(result.request.type) or nil
  local text, err = M.render(result, {cfg = cfg, schema = S, typedef = typedef})
  if not text then return nil, err end
  local dir = util.dirname(path)
  if not util.dir_exists(dir) then
    return nil, ("cannot write job %s: directory %s does not exist (mkdir -p %s)"):format(path, dir, util.shell_quote(dir))
  end
  local ok, werr = util.write_file(path, text)
  if not ok then return nil, ("cannot write job %s: %s"):format(path, werr) end
  require("sparkgen.history").set_job(cfg, result, require("sparkgen.sys").realpath(path) or path)
  return true
end

return M

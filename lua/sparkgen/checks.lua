-- checks.lua — the validation rule library.
-- A rule is a file returning {name, summary, params, describe, pyspark} (built-ins in
-- lua/rules/, a team's own in <root>/rules/, which shadow built-ins of the same name).
-- This module loads and checks rule files, resolves the checks a type or a model asks
-- for into concrete entries {rule=, <params>..., description=} (the `validation_checks`
-- of a result), and turns an entry into the Python expression the job evaluates with
-- `df` (the result) and `F` in scope, giving the number of violating rows (0 = pass).
--
-- A check parameter written as "$(name)" takes the request's context value `name` when
-- the check is resolved (e.g. `max = "$(limit)"`, `period = "$(time_period)"`), so a
-- type's checks follow the request while the resolved entry holds plain values.
local registry = require "sparkgen.registry"
local sandbox = require "sparkgen.sandbox"
local util = require "sparkgen.util"

local M = {}

-- Keys of a check entry that are not rule parameters.
local ENTRY_KEYS = {rule = true, description = true}

---------------------------------------------------------------------------------------
-- Python text helpers, handed to every rule's describe/pyspark as the second argument,
-- so names reach the generated code quoted, never spliced raw.
local py = {}
M.py = py

--- A Python string literal (single quotes; quotes, backslashes and control characters
--- escaped; UTF-8 kept as is, since Python source is UTF-8).
function py.str(s)
  return util.python_string(s, "'")
end

--- `F.col('name')`; a name with a dot or a backtick is backtick-quoted so Spark reads
--- it as one column rather than a struct field.
function py.col(name)
  name = tostring(name)
  if name:find("[.`]") then name = "`" .. name:gsub("`", "``") .. "`" end
  return "F.col(" .. py.str(name) .. ")"
end

--- A Python list of string literals.
function py.list(items)
  local out = {}
  for i, v in ipairs(items) do out[i] = py.str(v) end
  return "[" .. table.concat(out, ", ") .. "]"
end

--- A Python `datetime.date` literal from "YYYY-MM-DD" (the job imports `date`).
function py.date(iso)
  local y, m, d = tostring(iso):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then error("not an ISO date: " .. tostring(iso), 2) end
  return ("date(%d, %d, %d)"):format(tonumber(y), tonumber(m), tonumber(d))
end

--- Names joined for sentences: "a", "a and b", "a, b and c".
function py.join(items)
  if #items <= 1 then return items[1] or "" end
  return table.concat(items, ", ", 1, #items - 1) .. " and " .. items[#items]
end

---------------------------------------------------------------------------------------
-- Dates and periods, the same table as period_bounds() in templates/job.py
-- (docs/internals.md "Periods"), so a check's bounds match the body's filter.

-- Days since 1970-01-01 of a civil date (proleptic Gregorian), and back; pure
-- arithmetic, so the local time zone never shifts a day.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return m <= 2 and y + 1 or y, m, d
end

local function parse_date(s)
  local y, m, d = tostring(s):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  local yy, mm, dd = civil_from_days(days_from_civil(y, m, d))
  if yy ~= y or mm ~= m or dd ~= d then return nil end -- 2026-02-30 and friends
  return days_from_civil(y, m, d)
end

local function format_days(n)
  return ("%04d-%02d-%02d"):format(civil_from_days(n))
end

M.PERIODS = {"last_7_days", "last_30_days", "last_month", "last_90_days", "last_quarter",
             "month_to_date", "ytd", "all"}

--- period_bounds(period, as_of) → start, end ("YYYY-MM-DD", end exclusive), or nil, nil
--- for "all". Raises on an unknown period or a bad date (callers check both first).
function M.period_bounds(period, as_of)
  if period == "all" then return nil, nil end
  local today = assert(parse_date(as_of), "as_of must be YYYY-MM-DD")
  local y, m = civil_from_days(today)
  local rolling = {last_7_days = 7, last_30_days = 30, last_90_days = 90}
  if rolling[period] then return format_days(today - rolling[period]), format_days(today) end
  local month_start = days_from_civil(y, m, 1)
  if period == "last_month" then
    local py_, pm = y, m - 1
    if pm == 0 then py_, pm = y - 1, 12 end
    return format_days(days_from_civil(py_, pm, 1)), format_days(month_start)
  elseif period == "last_quarter" then
    local qm = 3 * ((m - 1) // 3) + 1
    local qy, pqm = y, qm - 3
    if pqm < 1 then qy, pqm = y - 1, pqm + 12 end
    return format_days(days_from_civil(qy, pqm, 1)), format_days(days_from_civil(y, qm, 1))
  elseif period == "month_to_date" then
    return format_days(month_start), format_days(today + 1)
  elseif period == "ytd" then
    return format_days(days_from_civil(y, 1, 1)), format_days(today + 1)
  end
  error("unknown period '" .. tostring(period) .. "'", 2)
end

--- The day before an ISO date (an exclusive end as an inclusive one).
function M.day_before(iso)
  return format_days(assert(parse_date(iso), "not an ISO date") - 1)
end

-- Helpers a rule receives besides the Python ones.
py.period_bounds = M.period_bounds
py.day_before = M.day_before
py.PERIODS = M.PERIODS

-- What a rule's functions receive: a read-only view, so one rule cannot change the
-- helpers another rule (or the engine) uses.
local py_lent = util.copy(py)
py_lent.PERIODS = sandbox.frozen(M.PERIODS, "py.PERIODS")
py_lent = sandbox.frozen(py_lent, "py")

---------------------------------------------------------------------------------------
-- Loading rule files: the plugin registry (registry.lua) finds, sandboxes and checks
-- them; a rule adds its two functions.

local RULE_FIELD_LIST = {"name", "summary", "params", "describe", "pyspark"}
local RULE_PARAM_TYPES = {"string", "list", "integer", "number", "boolean", "enum", "date"}

local kind = registry.new{
  kind = "rules", noun = "rule", fields = RULE_FIELD_LIST,
  required = {"name", "summary", "describe", "pyspark"},
  hints = {name = "the file name", summary = "one line",
           describe = "a function(params, py) returning a sentence",
           pyspark = "a function(params, py) returning a Python expression"},
  validate = function(def, bad)
    if type(def.describe) ~= "function" then
      return bad("describe", "expected a function(params, py) returning a sentence, got " .. type(def.describe))
    end
    if type(def.pyspark) ~= "function" then
      return bad("pyspark", "expected a function(params, py) returning a Python expression, got " .. type(def.pyspark))
    end
    return registry.check_params(def.params, bad, RULE_PARAM_TYPES, ENTRY_KEYS)
  end,
  finish = function(def, entry)
    def.params = def.params or {}
    return {def = def, path = entry.path, origin = entry.origin, shadows = entry.shadows}
  end,
  unknown = function(name, names)
    return ("unknown rule '%s'%s; known rules: %s"):format(name, util.suggest(name, names), table.concat(names, ", "))
  end,
  -- What the system prompt and the tool schema need (M.summaries): kept in the plugin
  -- index, so a request lists the rules without loading them.
  summary = function(r)
    local params = {}
    for k, p in pairs(r.def.params) do params[k] = {type = p.type, required = p.required and true or nil} end
    return {name = r.def.name, summary = r.def.summary, params = params}
  end,
  summary_ok = function(s, entry)
    if type(s) ~= "table" or s.name ~= entry.name or type(s.summary) ~= "string" or type(s.params) ~= "table" then
      return false
    end
    for k, p in pairs(s.params) do
      if type(k) ~= "string" or type(p) ~= "table" or type(p.type) ~= "string"
         or (p.required ~= nil and p.required ~= true) then
        return false
      end
    end
    return true
  end,
}

--- Load every rule (user roots first): {by_name = {}, list = {}, broken = {}} or nil,
--- message. opts.strict (or the configured strict mode): a broken rule file is an
--- error; opts.reload: read the files again.
function M.load_all(opts)
  return kind:load_all(opts)
end

--- Vouch for every rule without loading the ones known unchanged (registry.lua):
--- true, or nil, message under strict when one is broken.
function M.check_all(opts)
  return kind:check_all(opts)
end

--- Every rule's {name=, summary=, params = {NAME = {type=, required=}}}, sorted by
--- name: what the system prompt and the tool schema show, without loading the rule
--- files the plugin index knows unchanged. Raises under strict when one is broken,
--- as M.list does.
function M.summaries(opts)
  return assert(kind:summaries(opts))
end

--- Forget loaded rules (after paths.setup changes the search path).
function M.reset()
  kind:reset()
end

--- Every rule: {{name=, summary=, params=, origin=, path=}, ...} sorted by name.
function M.list(opts)
  local reg = assert(M.load_all(opts))
  local out = {}
  for i, r in ipairs(reg.list) do
    out[i] = {name = r.def.name, summary = r.def.summary, params = r.def.params, origin = r.origin, path = r.path}
  end
  return out
end

--- The rule named `name`: registry entry {def=, path=, origin=} or nil, message.
function M.get(name, opts)
  if type(name) ~= "string" then
    local reg, err = M.load_all(opts)
    if not reg then return nil, err end
    return nil, "a check needs a rule name (rule = \"...\")"
  end
  return kind:get(name, opts)
end

---------------------------------------------------------------------------------------
-- Resolving and rendering checks.

-- "$(name)" → the context key it refers to, or nil.
local function context_ref(v)
  return type(v) == "string" and v:match("^%$%(%s*([%a_][%w_]*)%s*%)$") or nil
end

-- The parameters of one spec, checked against the rule: params table or nil, message.
-- `context` nil means "not known yet": then a spec that refers to it returns false.
local function check_params(r, spec, context)
  local def = r.def
  return registry.resolve_params(("rule '%s'"):format(def.name), def.params, spec, {
    skip = ENTRY_KEYS,
    label = function(k) return ("rule '%s': parameter '%s'"):format(def.name, k) end,
    substitute = function(k, v)
      local ref = context_ref(v)
      if not ref then return v end
      if context == nil then return registry.LATER end
      if context[ref] == nil then
        return nil, ("rule '%s': parameter '%s' refers to '%s', which the request's context does not have"):format(def.name, k, ref)
      end
      return context[ref]
    end,
  })
end

-- Call a rule's function; a broken user function is an expected failure with its file.
local function call_rule(r, fname, p)
  local ok, out = sandbox.pcall(r.def[fname], util.deepcopy(p), py_lent)
  if not ok then return nil, ("rule '%s' (%s): %s failed: %s"):format(r.def.name, r.path, fname, tostring(out)) end
  if type(out) ~= "string" or out == "" then
    return nil, ("rule '%s' (%s): %s returned %s, expected a non-empty string"):format(r.def.name, r.path, fname, type(out))
  end
  return out
end

--- resolve(specs[, context]) → list of {rule=, <params>..., description=} or nil, message.
--- specs: list of {rule = "name", <param> = value, ...}. Values "$(key)" are taken from
--- `context`; without a context, checks that refer to it are left out (they are
--- resolved once the request is known).
function M.resolve(specs, context)
  if type(specs) ~= "table" then return nil, "checks must be a list of {rule = ...}" end
  local out = {}
  for i, spec in ipairs(specs) do
    if type(spec) ~= "table" then return nil, ("check %d: expected a table {rule = ...}, got %s"):format(i, type(spec)) end
    local r, err = M.get(spec.rule)
    if not r then return nil, ("check %d: %s"):format(i, err) end
    local p, perr = check_params(r, spec, context)
    if p == nil then return nil, ("check %d: %s"):format(i, perr) end
    if p then
      local description, derr = call_rule(r, "describe", p)
      if not description then return nil, ("check %d: %s"):format(i, derr) end
      local entry = util.copy(p)
      entry.rule = r.def.name
      entry.description = description
      out[#out + 1] = entry
    end
  end
  return out
end

--- The parameters of a resolved entry, checked again (an entry may come from a cache
--- file or a model): params or nil, message.
local function entry_params(check)
  if type(check) ~= "table" then return nil, nil, "a check must be a table {rule = ...}" end
  local r, err = M.get(check.rule)
  if not r then return nil, nil, err end
  local p, perr = check_params(r, check, nil)
  if p == false then
    return nil, nil, ("rule '%s': a parameter still refers to the context; resolve the check first"):format(r.def.name)
  end
  if not p then return nil, nil, perr end
  return r, p
end

--- pyspark(check) → the Python expression (violating rows; 0 = pass) or nil, message.
function M.pyspark(check)
  local r, p, err = entry_params(check)
  if not r then return nil, err end
  return call_rule(r, "pyspark", p)
end

--- describe(check) → the human sentence or nil, message.
function M.describe(check)
  local r, p, err = entry_params(check)
  if not r then return nil, err end
  return call_rule(r, "describe", p)
end

return M

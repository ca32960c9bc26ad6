-- request.lua — a generation request as a user gives it (command line, recipe, batch
-- line) and what a user is told about its outcome: --context parsing, building the
-- request, and the findings and warnings of a result as lines for stderr. Shared by
-- the generate, exec and prompt commands and the public library (init.lua).
local util = require "sparkgen.util"

local M = {}

--- Parse the --context values into a table of strings (or Lua values from a literal).
function M.parse_context(values)
  local ctx = {}
  for _, v in ipairs(values or {}) do
    if v:match("^%s*{") then
      -- A Lua literal runs in the sandbox with no names: a bare word is an error
      -- (`{time_period = ytd}` meant "ytd"), never a silent nil.
      local t, err = require("sparkgen.sandbox").literal(v, "--context")
      if not t then return nil, ("bad --context %s: %s"):format(v, err) end
      for k, x in pairs(t) do ctx[k] = x end
    else
      local k, x = v:match("^%s*([%w_]+)%s*=(.*)$")
      if not k then return nil, ("bad --context '%s': expected key=value"):format(v) end
      ctx[k] = x
    end
  end
  return ctx
end

--- Parse --table values "NAME=TABLE" (a type's table name = this database's table)
--- into a map, or nil, message.
function M.parse_tables(values)
  local map = {}
  for _, v in ipairs(values or {}) do
    local k, t = v:match("^%s*([^=%s]+)%s*=%s*(%S+)%s*$")
    if not k then
      return nil, ("bad --table '%s': expected NAME=TABLE, e.g. --table orders=sales.orders"):format(v)
    end
    if map[k] and map[k] ~= t then return nil, ("--table %s is given twice (%s and %s)"):format(k, map[k], t) end
    map[k] = t
  end
  return map
end

--- The request for parsed arguments {source=, type=, context = {"k=v", ...},
--- table = {"name=schema.table", ...}}, or nil, message (a usage error).
function M.from_args(args)
  local context, err = M.parse_context(args.context)
  if not context then return nil, err end
  local tables, terr = M.parse_tables(args.table)
  if not tables then return nil, terr end
  return {source = args.source, type = args.type, context = context, tables = next(tables) and tables or nil}
end

--- The table map of a request: config `tables` (for every type; reg = the type
--- registry) overlaid by the request's own (--table), restricted to the names this
--- request uses — the type's tables and the source. Returns the map (name → this
--- database's table) or nil, message naming an unknown name and the closest one.
function M.table_map(reg, typedef, source, cfg_map, req_map)
  local function check_target(where, k, v)
    if type(k) ~= "string" or type(v) ~= "string" or v == "" then
      return ("%s: a table mapping is NAME = \"schema.table\" (got %s = %s)"):format(where, tostring(k), tostring(v))
    end
  end
  local uses = {[source] = true}
  for _, n in ipairs(typedef and typedef.tables or {}) do uses[n] = true end
  local map = {}
  if next(cfg_map or {}) then
    -- The config's map serves every type: its names must be tables some type uses.
    local known, seen = {}, {}
    for _, def in ipairs(reg.list or {}) do
      for _, n in ipairs(def.tables or {}) do
        if not seen[n] then seen[n] = true; known[#known + 1] = n end
      end
    end
    for _, k in ipairs(util.sorted_keys(cfg_map)) do
      local bad = check_target("config tables", k, cfg_map[k])
      if bad then return nil, bad end
      if not seen[k] then
        return nil, ("config tables: no type uses a table '%s'%s"):format(k, util.suggest(k, known))
      end
      if uses[k] then map[k] = cfg_map[k] end
    end
  end
  for _, k in ipairs(util.sorted_keys(req_map or {})) do
    local bad = check_target("--table", k, req_map[k])
    if bad then return nil, bad end
    if not uses[k] then
      if not typedef then
        return nil, ("--table %s: a free-form request maps only its source table (%s)"):format(k, source)
      end
      local names = util.copy(typedef.tables or {})
      return nil, ("--table %s: type '%s' uses no table '%s'%s; its tables: %s"):format(k, typedef.name, k,
        util.suggest(k, names), table.concat(names, ", "))
    end
    map[k] = req_map[k]
  end
  return map
end

--- One finding as "line N: id: message" (with the suggestions when `suggest`).
function M.finding_line(f, suggest)
  local sugg = suggest and f.suggestions and #f.suggestions > 0
    and (" (did you mean: " .. table.concat(f.suggestions, ", ") .. "?)") or ""
  return ("line %s: %s: %s%s"):format(tostring(f.line or "?"), f.id, f.message, sugg)
end

--- Print the findings of a result that failed its checks, as FILE-less lint lines.
function M.print_findings(result, err)
  err = err or io.stderr
  err:write(("sparkgen: the generated code failed %d check%s after %d attempt%s:\n"):format(
    #result.findings, #result.findings == 1 and "" or "s", result.attempts, result.attempts == 1 and "" or "s"))
  for _, f in ipairs(result.findings) do err:write("  ", M.finding_line(f, true), "\n") end
end

--- Print a result's warnings, one `sparkgen: warning:` line each, and what was checked
--- beyond lint: one line when the plan check ran.
function M.print_warnings(result, err)
  err = err or io.stderr
  for _, w in ipairs(result.warnings or {}) do err:write("sparkgen: warning: ", w, "\n") end
  local pc = result.plan_check
  if pc and pc.checks and pc.checks > 0 then
    err:write(("sparkgen: plan check %s on Spark (%d analysed, %d rejected, %.2f s; no data read)\n"):format(
      pc.status, pc.checks, pc.rejections, pc.seconds or 0))
  end
end

return M

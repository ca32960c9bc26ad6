-- types.lua — transformation types as plugins.
-- A type is a Lua file that returns a plain table (see docs/internals.md). This module
-- finds them (user roots before the built-in one, so a user file shadows a built-in
-- type of the same name), loads each in a small sandbox, checks every field and says
-- precisely what is wrong (`file:line: field 'x': expected ..., got ...`). A broken user
-- plugin is logged and skipped; with `strict` it is an error. It also checks the
-- context a request gives against the type's declared parameters.
local log = require "sparkgen.log"
local paths = require "sparkgen.paths"
local util = require "sparkgen.util"

local M = {}

local COMPLEXITIES = {low = true, medium = true, high = true}
local PARAM_FIELDS = {type = true, values = true, default = true, required = true, min = true,
                      max = true, doc = true}

local sandbox = require "sparkgen.sandbox"

--- The line of `field = ` in the file text (best effort; 1 when not found).
local function line_of(text, field)
  local n = 1
  for line in text:gmatch("([^\n]*)\n?") do
    if line:match("^%s*" .. field .. "%s*=") or line:match("[{,]%s*" .. field .. "%s*=") then return n end
    n = n + 1
  end
  return 1
end
M.line_of = line_of

--- Load a plugin file that returns a table, in the sandbox (sandbox.lua): value, text
--- or nil, "file:line: message".
function M.load_plugin_file(path)
  local ok, value, text = sandbox.dofile(path, sandbox.env(), util.read_file)
  if not ok then return nil, value end
  if type(value) ~= "table" then
    return nil, ("%s:1: a plugin file must return a table, got %s"):format(path, type(value))
  end
  return value, text
end

local function is_list_of_strings(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for k, x in pairs(v) do
    if math.type(k) ~= "integer" or type(x) ~= "string" then return false end
    n = n + 1
  end
  return n == #v
end
M.is_list_of_strings = is_list_of_strings

--- Check and coerce one parameter value against its declaration (type parameters and
--- rule parameters share this). Strings from a command line or a model's JSON are
--- accepted where they parse; a `list` (rules only) may be "a,b". Returns the value or
--- nil, message.
function M.check_value(spec, value, what)
  local t = spec.type
  if t == "string" then
    if type(value) ~= "string" or value == "" then return nil, ("%s must be a non-empty string"):format(what) end
  elseif t == "list" then
    if type(value) == "string" then
      local items = {}
      for _, piece in ipairs(util.split(value, ",")) do
        piece = util.trim(piece)
        if piece ~= "" then items[#items + 1] = piece end
      end
      value = items
    end
    if not is_list_of_strings(value) or #value == 0 then
      return nil, ("%s must be a non-empty list of strings"):format(what)
    end
    for _, item in ipairs(value) do
      if item == "" then return nil, ("%s must not contain an empty string"):format(what) end
    end
    value = util.copy(value)
  elseif t == "integer" then
    local n = math.tointeger(tonumber(value))
    if not n then return nil, ("%s must be an integer, got '%s'"):format(what, tostring(value)) end
    value = n
  elseif t == "number" then
    local n = tonumber(value)
    if not n then return nil, ("%s must be a number, got '%s'"):format(what, tostring(value)) end
    value = n
  elseif t == "boolean" then
    if value == "true" or value == true then value = true
    elseif value == "false" or value == false then value = false
    else return nil, ("%s must be true or false, got '%s'"):format(what, tostring(value)) end
  elseif t == "enum" then
    value = tostring(value)
    local found = false
    for _, v in ipairs(spec.values) do if v == value then found = true end end
    if not found then
      return nil, ("%s must be one of %s, got '%s'%s"):format(what, table.concat(spec.values, ", "),
        value, util.suggest(value, spec.values))
    end
  elseif t == "date" then
    value = tostring(value)
    local y, m, d = value:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
    local ok = y and os.date("!%Y-%m-%d", os.time{year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12}) == value
    if not ok then return nil, ("%s must be a date YYYY-MM-DD, got '%s'"):format(what, value) end
  end
  if (t == "integer" or t == "number") then
    if spec.min and value < spec.min then return nil, ("%s must be >= %s, got %s"):format(what, spec.min, value) end
    if spec.max and value > spec.max then return nil, ("%s must be <= %s, got %s"):format(what, spec.max, value) end
  end
  return value
end
local check_value = M.check_value

-- ---------------------------------------------------------------------------------
-- Checking plugin tables. Types and validation rules are both plugin files with a
-- name, a summary and declared parameters; these helpers check what they share.

--- The error builder for a plugin file: bad(field, expected, got) → nil, "file:line:
--- field 'x': expected ..., got ..." (the line is where the field is written).
function M.field_error(path, text)
  return function(field, expected, got)
    return nil, ("%s:%d: field '%s': expected %s, got %s"):format(path, line_of(text or "", field:match("^[%w_]+")),
      field, expected, got)
  end
end

--- Only the fields in `fields` (a list, in the order the message gives them), a name
--- equal to the file's, a non-empty summary.
function M.check_plugin_header(def, path, bad, fields)
  local known = {}
  for _, f in ipairs(fields) do known[f] = true end
  for k in pairs(def) do
    if not known[k] then
      return bad(tostring(k), "no such field (known: " .. table.concat(fields, ", ") .. ")", "'" .. tostring(k) .. "'")
    end
  end
  local stem = util.basename(path):gsub("%.lua$", "")
  if type(def.name) ~= "string" then return bad("name", "a string", type(def.name)) end
  if def.name ~= stem then return bad("name", ("'%s' (the file name)"):format(stem), "'" .. def.name .. "'") end
  if type(def.summary) ~= "string" or def.summary == "" then return bad("summary", "a non-empty string", type(def.summary)) end
  return true
end

--- Declared parameters: identifiers (none of `reserved`), known fields, a type from
--- `allowed` (a list), enum values, and defaults that pass their own declaration.
function M.check_params(params, bad, allowed, reserved)
  if params ~= nil and type(params) ~= "table" then return bad("params", "a table of parameters", type(params)) end
  local types_ok = {}
  for _, t in ipairs(allowed) do types_ok[t] = true end
  for pname, spec in pairs(params or {}) do
    local field = "params." .. tostring(pname)
    if type(pname) ~= "string" or not pname:match("^[%a_][%w_]*$") or (reserved and reserved[pname]) then
      return bad(field, "an identifier as parameter name" .. (reserved and " (not rule or description)" or ""), tostring(pname))
    end
    if type(spec) ~= "table" then return bad(field, "a table {type = ...}", type(spec)) end
    for k in pairs(spec) do
      if not PARAM_FIELDS[k] then return bad(field .. "." .. tostring(k), "no such field (known: type, values, default, required, min, max, doc)", "'" .. tostring(k) .. "'") end
    end
    if not types_ok[spec.type] then
      local last = allowed[#allowed]
      return bad(field .. ".type", table.concat(allowed, ", ", 1, #allowed - 1) .. " or " .. last, tostring(spec.type))
    end
    if spec.type == "enum" and (not is_list_of_strings(spec.values) or #spec.values == 0) then
      return bad(field .. ".values", "a non-empty list of strings", type(spec.values))
    end
    if spec.default ~= nil then
      local _, err = check_value(spec, spec.default, "default")
      if err then return bad(field .. ".default", "a valid value", err) end
    end
  end
  return true
end

local TYPE_FIELD_LIST = {"name", "summary", "tables", "params", "complexity", "checks", "guidance",
                         "description", "template", "source"}
local TYPE_PARAM_TYPES = {"string", "integer", "number", "boolean", "enum", "date"}

--- Check a type table; returns true or nil, "file:line: field ...: expected ..., got ...".
function M.validate(def, path, text)
  local bad = M.field_error(path, text)
  local ok, err = M.check_plugin_header(def, path, bad, TYPE_FIELD_LIST)
  if not ok then return nil, err end
  if def.tables ~= nil and not is_list_of_strings(def.tables) then return bad("tables", "a list of table names", type(def.tables)) end
  if def.source ~= nil and type(def.source) ~= "string" then return bad("source", "a table name", type(def.source)) end
  if not COMPLEXITIES[def.complexity] then return bad("complexity", "low, medium or high", tostring(def.complexity)) end
  if def.guidance ~= nil and type(def.guidance) ~= "string" then return bad("guidance", "a string", type(def.guidance)) end
  if def.description ~= nil and type(def.description) ~= "string" then return bad("description", "a string", type(def.description)) end
  if def.template ~= nil then
    if type(def.template) ~= "string" then return bad("template", "a path under templates/", type(def.template)) end
    if not paths.find("templates", def.template) then
      return bad("template", "a file under templates/ (" .. def.template .. " not found)", "'" .. def.template .. "'")
    end
  end
  ok, err = M.check_params(def.params, bad, TYPE_PARAM_TYPES)
  if not ok then return nil, err end
  if def.checks ~= nil then
    if type(def.checks) ~= "table" then return bad("checks", "a list of {rule = ...}", type(def.checks)) end
    for i, c in ipairs(def.checks) do
      if type(c) ~= "table" or type(c.rule) ~= "string" then
        return bad("checks", "a list of {rule = ...}", ("entry %d without a rule"):format(i))
      end
    end
  end
  return true
end

local registry -- cache for this process: {by_name = {}, list = {}, broken = {}}

--- Load every type. opts.strict makes a broken plugin an error.
--- Returns the registry or nil, message.
function M.load_all(opts)
  opts = opts or {}
  if registry and not opts.reload then return registry end
  local reg = {by_name = {}, list = {}, broken = {}}
  for _, entry in ipairs(paths.list("types", ".lua")) do
    local def, text = M.load_plugin_file(entry.path)
    local ok, err = def ~= nil, text
    if ok then ok, err = M.validate(def, entry.path, text) end
    if ok then
      def.origin = entry.origin
      def.path = entry.path
      def.shadows = entry.shadows
      reg.by_name[def.name] = def
      reg.list[#reg.list + 1] = def
    else
      if opts.strict then return nil, "broken type plugin: " .. err end
      reg.broken[#reg.broken + 1] = {path = entry.path, error = err}
      log.warn("types.load", {status = "skipped", error = err, file = entry.path})
    end
  end
  registry = reg
  return reg
end

--- The type named `name`: typedef or nil, message (with the closest names).
function M.get(name, opts)
  local reg, err = M.load_all(opts)
  if not reg then return nil, err end
  local def = reg.by_name[name]
  if def then return def end
  for _, b in ipairs(reg.broken) do
    if util.basename(b.path) == name .. ".lua" then
      return nil, ("type '%s' is broken: %s"):format(name, b.error)
    end
  end
  local names = {}
  for _, d in ipairs(reg.list) do names[#names + 1] = d.name end
  return nil, ("unknown type '%s'%s; 'sparkgen types' lists them"):format(name, util.suggest(name, names))
end

--- True when `word` names a registered type (used to tell a type from free text).
function M.exists(word, opts)
  local reg = M.load_all(opts)
  return reg ~= nil and reg.by_name[word] ~= nil
end

--- Check a request's context against the type's parameters and fill defaults.
--- `given` maps names to strings (from the command line) or Lua values (recipes).
--- Returns the resolved context or nil, message listing what is allowed.
function M.resolve_context(def, given)
  local params = def.params or {}
  local names = util.sorted_keys(params)
  local out = {}
  for k, v in pairs(given or {}) do
    local spec = params[k]
    if not spec then
      local allowed = #names > 0 and ("; allowed: " .. table.concat(names, ", ")) or "; it takes no parameters"
      return nil, ("type '%s' has no parameter '%s'%s%s"):format(def.name, tostring(k), util.suggest(tostring(k), names), allowed)
    end
    local value, err = check_value(spec, v, ("parameter '%s' of type '%s'"):format(k, def.name))
    if value == nil then return nil, err end
    out[k] = value
  end
  for _, k in ipairs(names) do
    local spec = params[k]
    if out[k] == nil then
      if spec.default ~= nil then
        out[k] = check_value(spec, spec.default, k)
      elseif spec.type == "date" and k == "as_of" then
        out[k] = util.today() -- recorded, so a rendered job keeps giving the same rows
      elseif spec.required then
        return nil, ("type '%s' needs parameter '%s' (%s)"):format(def.name, k, spec.doc or spec.type)
      end
    end
  end
  return out
end

--- One line describing a parameter, for `sparkgen types`.
function M.describe_param(name, spec)
  local parts = {name, spec.type}
  if spec.values then parts[#parts + 1] = "{" .. table.concat(spec.values, "|") .. "}" end
  if spec.min or spec.max then parts[#parts + 1] = ("[%s..%s]"):format(spec.min or "", spec.max or "") end
  if spec.default ~= nil then parts[#parts + 1] = "default " .. tostring(spec.default) end
  if spec.required then parts[#parts + 1] = "required" end
  return table.concat(parts, " ")
end

return M

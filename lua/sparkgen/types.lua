-- types.lua — transformation types as plugins.
-- A type is a Lua file that returns a plain table (see docs/internals.md). Finding,
-- loading (in the sandbox), the shared field checks and broken-plugin handling are the
-- plugin registry's (registry.lua); this module adds what is specific to a type — its
-- fields (tables, complexity, checks, template, ...) — and checks the context a request
-- gives against the type's declared parameters.
local paths = require "sparkgen.paths"
local registry = require "sparkgen.registry"
local util = require "sparkgen.util"

local M = {}

local COMPLEXITIES = {low = true, medium = true, high = true}

-- Shared with checks.lua through the registry (one checker for every parameter).
M.check_value = registry.check_value
M.is_list_of_strings = registry.is_list_of_strings
local is_list_of_strings = registry.is_list_of_strings

local TYPE_FIELD_LIST = {"name", "summary", "tables", "params", "complexity", "checks", "guidance",
                         "description", "template", "source"}
local TYPE_PARAM_TYPES = {"string", "integer", "number", "boolean", "enum", "date"}

-- What only a type has; bad(field, message) errors at the field's line.
local function validate(def, bad)
  if def.tables ~= nil and not is_list_of_strings(def.tables) then
    return bad("tables", "expected a list of table names, got " .. type(def.tables))
  end
  if def.source ~= nil and type(def.source) ~= "string" then return bad("source", "expected a table name, got " .. type(def.source)) end
  if not COMPLEXITIES[def.complexity] then
    return bad("complexity", ("expected low, medium or high, got %s%s"):format(tostring(def.complexity),
      util.suggest(tostring(def.complexity), {"low", "medium", "high"})))
  end
  for _, f in ipairs({"guidance", "description"}) do
    if def[f] ~= nil and type(def[f]) ~= "string" then return bad(f, "expected a string, got " .. type(def[f])) end
  end
  if def.template ~= nil then
    if type(def.template) ~= "string" then return bad("template", "expected a path under templates/, got " .. type(def.template)) end
    if not paths.find("templates", def.template) then
      return bad("template", ("expected a file under templates/ (%s not found), got '%s'"):format(def.template, def.template))
    end
  end
  local ok, err = registry.check_params(def.params, bad, TYPE_PARAM_TYPES)
  if not ok then return nil, err end
  if def.checks ~= nil then
    if type(def.checks) ~= "table" then return bad("checks", "expected a list of {rule = ...}, got " .. type(def.checks)) end
    for i, c in ipairs(def.checks) do
      if type(c) ~= "table" then return bad("checks." .. i, "expected a table {rule = ...}, got " .. type(c)) end
      if type(c.rule) ~= "string" then
        local near = {}
        for k in pairs(c) do
          if type(k) == "string" and util.distance(k, "rule") <= 2 then near[#near + 1] = k end
        end
        table.sort(near)
        return bad("checks." .. i, "missing required field 'rule' (a rule name)" ..
          (near[1] and (" — is '" .. near[1] .. "' meant to be 'rule'?") or ""))
      end
    end
  end
  return true
end

-- typedef → function giving its file's field lines (computed when first asked for).
local field_lines = setmetatable({}, {__mode = "k"})

local kind = registry.new{
  kind = "types", noun = "type", fields = TYPE_FIELD_LIST,
  required = {"name", "summary", "complexity"},
  hints = {name = "the file name", summary = "one line", complexity = "low, medium or high"},
  validate = validate,
  finish = function(def, entry)
    def.origin, def.path, def.shadows = entry.origin, entry.path, entry.shadows
    field_lines[def] = entry.lines
    return def
  end,
  unknown = function(name, names)
    return ("unknown type '%s'%s; 'sparkgen types' lists them"):format(name, util.suggest(name, names))
  end,
}

--- Load every type: {by_name = {}, list = {}, broken = {}} or nil, message.
--- opts.strict (or the configured strict mode) makes a broken plugin an error;
--- opts.reload reads the files again.
function M.load_all(opts)
  return kind:load_all(opts)
end

--- The type named `name`: typedef or nil, message (with the closest names). Only its
--- file is loaded, unless strict.
function M.get(name, opts)
  return kind:get(name, opts)
end

--- Vouch for every type without loading the ones known unchanged (registry.lua):
--- true, or nil, message under strict when one is broken.
function M.check_all(opts)
  return kind:check_all(opts)
end

--- The line in the type's file where `field` ("description", "params.limit") is written.
function M.line_of(def, field)
  local lines = field_lines[def]
  return registry.line_of(lines and lines() or {}, field)
end

--- The file line of the first line of the type's description (a long string that
--- opens at the end of its line starts on the next one, as Lua reads it).
function M.description_line(def)
  if def.description_first_line then return def.description_first_line end
  def.description_first_line = M.line_of(def, "description")
  local n = def.description_first_line
  local text = util.read_file(def.path) or ""
  local i = 1
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if i == n then
      if line:match("description%s*=%s*%[=*%[%s*$") then def.description_first_line = n + 1 end
      break
    end
    i = i + 1
  end
  return def.description_first_line
end

--- True when a type file is named `name` (no path separators: free text is not a path).
function M.has_file(name)
  if type(name) ~= "string" or name == "" or name:find("[/\\]") or name:sub(1, 1) == "." then return false end
  return paths.find("types", name .. ".lua") ~= nil
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
  return registry.resolve_params(("type '%s'"):format(def.name), def.params, given, {
    label = function(k) return ("parameter '%s' of type '%s'"):format(k, def.name) end,
    fallback = function(k, spec)
      -- as_of is recorded, so a rendered job keeps giving the same rows
      if spec.type == "date" and k == "as_of" then return util.today() end
    end,
  })
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

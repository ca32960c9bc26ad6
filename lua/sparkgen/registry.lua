-- registry.lua — the one plugin registry: types (types.lua) and validation rules
-- (checks.lua) are both Lua files returning a table with a name, a summary and declared
-- parameters, found on the search path (user roots shadow the built-in one). This module
-- owns what they share:
--   - finding the files (paths.list) and recording origin and what each shadows;
--   - loading each file in the sandbox (sandbox.lua) and copying its table out plain;
--   - checking fields: unknown fields (with the closest known one), missing required
--     fields, each error as `file:line: field 'x': ...` at the REAL line of the field
--     (M.field_lines reads the file's table constructor), or of the table when missing;
--   - broken plugins: skipped with one warning per plugin per command (M.report, called
--     by the CLI when the command ends), or an error under `strict`;
--   - the parameter declarations and one checker for the values given for them
--     (M.check_value, M.resolve_params), so a value means the same in a type's context,
--     a check's parameters, on the command line and from a model.
-- types.lua and checks.lua keep only what is specific to each kind.
local log = require "sparkgen.log"
local paths = require "sparkgen.paths"
local sandbox = require "sparkgen.sandbox"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

local settings = {strict = false, index = nil}
local known -- the index's {[path] = signature}, read on first use

--- configure{strict = bool, index = FILE|nil}: a broken user plugin is an error (set
--- from the config); `index` is the file of plugins known to load (see below), nil to
--- keep none.
function M.configure(opts)
  settings.strict = opts and opts.strict and true or false
  local index = opts and opts.index or nil
  if index ~= settings.index then settings.index, known = index, nil end
end

---------------------------------------------------------------------------------------
-- Plugins known to load. A command that uses a plugin always loads it (in the sandbox,
-- with every check). The others it only has to vouch for: a broken one is reported by
-- every command, as before. The index (`<cache dir>/plugins.json`) remembers each file
-- that loaded and passed its checks by size and modification time, so an unchanged one
-- costs a stat instead of being read, parsed and run (a free-form request uses no
-- type; a cached answer names one or two rules). New, changed and broken files are
-- loaded. The index is only a cache: damaged or missing, every file is loaded again.

M.INDEX_FORMAT = "sparkgen.plugins/2"
local INDEX_MAX_BYTES = 1024 * 1024
local INDEX_MAX_ENTRIES = 4096

local function signature(path)
  local st = sys.stat(path)
  if not st or st.type ~= "file" then return nil end
  return ("%d:%.9f"):format(st.size, st.mtime)
end

-- {[path] = {sig = "size:mtime", summary = data|nil}} from the index file.
local function index_entries()
  if known then return known end
  known = {}
  local file = settings.index
  local text = file and util.file_exists(file) and util.read_file(file, INDEX_MAX_BYTES)
  local doc = text and util.json_decode(text)
  if type(doc) == "table" and doc.format == M.INDEX_FORMAT and type(doc.good) == "table" then
    for path, e in pairs(doc.good) do
      if type(path) == "string" and type(e) == "table" and type(e.sig) == "string" then
        known[path] = {sig = e.sig, summary = e.summary}
      end
    end
  end
  return known
end

-- The index's entry for a file whose signature is `sig`, or nil.
local function known_entry(path, sig)
  if settings.index == nil or sig == nil then return nil end
  local e = index_entries()[path]
  return e and e.sig == sig and e or nil
end

-- Remember the files that just loaded (a list of {path, sig, summary}): the index is
-- rewritten only when it changes, without the entries of files that are gone.
local function remember(loaded)
  if not settings.index then return end
  local entries, changed = index_entries(), false
  for _, e in ipairs(loaded) do
    local old = entries[e.path]
    if e.sig and not (old and old.sig == e.sig and (e.summary == nil or old.summary ~= nil)) then
      entries[e.path], changed = {sig = e.sig, summary = e.summary}, true
    end
  end
  if not changed then return end
  local kept, n = {}, 0
  for _, path in ipairs(util.sorted_keys(entries)) do
    if n < INDEX_MAX_ENTRIES and signature(path) == entries[path].sig then kept[path], n = entries[path], n + 1 end
  end
  known = kept
  local ok, err = sys.mkdir_p(util.dirname(settings.index))
  if ok then ok, err = util.write_file(settings.index, util.json_encode({format = M.INDEX_FORMAT, good = kept})) end
  if not ok then log.debug("plugins.index", {status = "not written", error = tostring(err)}) end
end

---------------------------------------------------------------------------------------
-- Where each field of a plugin's table is written (field_lines.lua).

local field_lines = require "sparkgen.field_lines"

--- field_lines(text) → {["name"] = 3, ["params.limit.type"] = 7, ...}; see field_lines.lua.
M.field_lines = field_lines.scan
M.line_of = field_lines.line_of

--- The error builder for one plugin file: bad(field, message) → nil,
--- "file:line: field 'x': message" at the field's line.
--- The second result, lines(), gives the field lines; both scan the file only when
--- asked (about 0.1 ms a file: not worth paying on every start-up for files that are
--- fine).
function M.field_error(path, text)
  local cached
  local function lines()
    cached = cached or M.field_lines(text or "")
    return cached
  end
  return function(field, message)
    return nil, ("%s:%d: field '%s': %s"):format(path, M.line_of(lines(), field), field, message)
  end, lines
end

---------------------------------------------------------------------------------------
-- Parameters: declarations and values.

M.PARAM_FIELDS = {"type", "values", "default", "required", "min", "max", "doc"}
local PARAM_FIELD_SET = {}
for _, f in ipairs(M.PARAM_FIELDS) do PARAM_FIELD_SET[f] = true end

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

--- Check and coerce one parameter value against its declaration. Strings from a
--- command line or a model's JSON are accepted where they parse; a `list` may be
--- "a,b". Returns the value or nil, message (`what` names the value).
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
    if not n or n ~= n or n == math.huge or n == -math.huge then
      return nil, ("%s must be a number, got '%s'"):format(what, tostring(value))
    end
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

--- Declared parameters: identifiers (none of `reserved`), known fields (with the
--- closest one), a type from `allowed` (a list), enum values, and defaults that pass
--- their own declaration. Returns true or bad(...)'s nil, message.
function M.check_params(params, bad, allowed, reserved)
  if params ~= nil and type(params) ~= "table" then return bad("params", "expected a table of parameters, got " .. type(params)) end
  local types_ok = {}
  for _, t in ipairs(allowed) do types_ok[t] = true end
  for _, pname in ipairs(util.sorted_keys(params or {})) do
    local spec = params[pname]
    local field = "params." .. tostring(pname)
    if type(pname) ~= "string" or not pname:match("^[%a_][%w_]*$") or (reserved and reserved[pname]) then
      return bad(field, "expected an identifier as parameter name" .. (reserved and " (not rule or description)" or "") ..
        ", got " .. tostring(pname))
    end
    if type(spec) ~= "table" then return bad(field, "expected a table {type = ...}, got " .. type(spec)) end
    for _, k in ipairs(util.sorted_keys(spec)) do
      if not PARAM_FIELD_SET[k] then
        return bad(field .. "." .. tostring(k), ("unknown field%s (known: %s)"):format(
          util.suggest(tostring(k), M.PARAM_FIELDS), table.concat(M.PARAM_FIELDS, ", ")))
      end
    end
    if spec.type == nil then
      return bad(field, "missing required field 'type' (" .. table.concat(allowed, ", ") .. ")")
    end
    if not types_ok[spec.type] then
      local last = allowed[#allowed]
      return bad(field .. ".type", ("expected %s or %s, got %s%s"):format(table.concat(allowed, ", ", 1, #allowed - 1),
        last, tostring(spec.type), util.suggest(tostring(spec.type), allowed)))
    end
    if spec.type == "enum" and (not is_list_of_strings(spec.values) or #spec.values == 0) then
      return bad(field .. ".values", "expected a non-empty list of strings, got " .. type(spec.values))
    end
    if spec.default ~= nil then
      local _, err = M.check_value(spec, spec.default, "default")
      if err then return bad(field .. ".default", err) end
    end
  end
  return true
end

M.LATER = setmetatable({}, {__name = "registry.LATER"})

--- The values given for declared parameters, checked, with defaults filled:
--- resolve_params(owner, params, given, opts) → values or nil, message.
---   owner   "type 'x'" / "rule 'x'", for messages
---   opts.skip        keys of `given` that are not parameters
---   opts.label(k)    how a value is named in its error
---   opts.substitute(k, v) → v | nil, message | M.LATER (cannot resolve yet: the
---                    result is then false)
---   opts.fallback(k, spec) → a value for a parameter without a default, or nil
function M.resolve_params(owner, params, given, opts)
  opts = opts or {}
  params = params or {}
  local names = util.sorted_keys(params)
  local out = {}
  for _, k in ipairs(util.sorted_keys(given or {})) do
    local v = given[k]
    if not (opts.skip and opts.skip[k]) then
      local spec = params[k]
      if not spec then
        local allowed = #names > 0 and ("; allowed: " .. table.concat(names, ", ")) or "; it takes no parameters"
        return nil, ("%s has no parameter '%s'%s%s"):format(owner, tostring(k), util.suggest(tostring(k), names), allowed)
      end
      if opts.substitute then
        local sv, serr = opts.substitute(k, v)
        if sv == M.LATER then return false end
        if sv == nil then return nil, serr end
        v = sv
      end
      local value, err = M.check_value(spec, v, opts.label and opts.label(k) or ("parameter '" .. k .. "'"))
      if value == nil then return nil, err end
      out[k] = value
    end
  end
  for _, k in ipairs(names) do
    local spec = params[k]
    if out[k] == nil then
      if spec.default ~= nil then
        out[k] = M.check_value(spec, spec.default, k)
      elseif opts.fallback and opts.fallback(k, spec) ~= nil then
        out[k] = opts.fallback(k, spec)
      elseif spec.required then
        return nil, ("%s needs parameter '%s' (%s)"):format(owner, k, spec.doc or spec.type)
      end
    end
  end
  return out
end

---------------------------------------------------------------------------------------
-- The registry of one kind.

local Registry = {}
Registry.__index = Registry

-- Every broken plugin seen by any registry this process: reported once (M.report).
local broken_seen = {}   -- list of {noun=, path=, error=, reported=}
local broken_by_path = {}

local function note_broken(noun, path, err)
  local b = broken_by_path[path]
  if b and b.error == err then return b end
  b = {noun = noun, path = path, error = err, reported = false}
  broken_by_path[path] = b
  broken_seen[#broken_seen + 1] = b
  return b
end

--- new{kind = "types", noun = "type", fields = {"name", "summary", ...},
---     required = {"name", "summary", ...}, hints = {complexity = "low, medium or high"},
---     validate = function(def, bad, entry) -> true | nil, message,
---     finish = function(def, entry) -> what the registry stores (default def),
---     unknown = function(name, names) -> message for a name that is not there}
function M.new(spec)
  -- loaded: every plugin (load_all); one: {[name] = {path=, value=}} loaded singly
  local r = setmetatable({spec = spec, loaded = nil, one = {}}, Registry)
  r.field_set = {}
  for _, f in ipairs(spec.fields) do r.field_set[f] = true end
  return r
end

--- Load one plugin file: the stored value or nil, message.
function Registry:load_file(entry)
  local spec = self.spec
  local ok, def, text = sandbox.dofile(entry.path, sandbox.env(), util.read_file)
  if not ok then return nil, def end
  if type(def) ~= "table" then
    return nil, ("%s:1: a plugin file must return a table, got %s"):format(entry.path, type(def))
  end
  local bad, lines = M.field_error(entry.path, text)
  -- unknown fields first: a typo of a required field is reported as the typo
  for _, k in ipairs(util.sorted_keys(def)) do
    if not self.field_set[k] then
      return bad(tostring(k), ("unknown field%s (known: %s)"):format(util.suggest(tostring(k), spec.fields),
        table.concat(spec.fields, ", ")))
    end
  end
  for _, f in ipairs(spec.required or {}) do
    if def[f] == nil then
      local hint = spec.hints and spec.hints[f]
      return nil, ("%s:%d: missing required field '%s'%s"):format(entry.path, M.line_of(lines(), ""), f,
        hint and (" (" .. hint .. ")") or "")
    end
  end
  local stem = util.basename(entry.path):gsub("%.lua$", "")
  if type(def.name) ~= "string" then return bad("name", "expected a string, got " .. type(def.name)) end
  if def.name ~= stem then return bad("name", ("expected '%s' (the file name), got '%s'"):format(stem, def.name)) end
  if type(def.summary) ~= "string" or def.summary == "" then
    return bad("summary", "expected a non-empty string, got " .. type(def.summary))
  end
  local vok, verr = spec.validate(def, bad, {path = entry.path, text = text})
  if not vok then return nil, verr end
  entry.lines = lines -- a function: the field lines, scanned on first use
  return spec.finish and spec.finish(def, entry) or def
end

--- Load every plugin of this kind: {by_name = {}, list = {}, broken = {{path=, error=}}}
--- or nil, message (strict). opts.reload reads the files again; opts.strict (or the
--- configured strict mode) makes a broken plugin an error.
function Registry:load_all(opts)
  opts = opts or {}
  if self.loaded and not opts.reload then return self.loaded end
  if opts.reload then self.one, self.checked = {}, nil end
  local strict = opts.strict or settings.strict
  local reg, good = {by_name = {}, list = {}, broken = {}}, {}
  for _, entry in ipairs(paths.list(self.spec.kind, ".lua")) do
    local one = self.one[entry.name]
    local value, err
    if one and one.path == entry.path then
      value = one.value -- loaded singly already: the same value, not a second copy
    else
      local sig = settings.index and signature(entry.path)
      value, err = self:load_file(entry)
      if value then good[#good + 1] = {path = entry.path, sig = sig, summary = self:summary_of(value)} end
    end
    if value then
      reg.by_name[entry.name] = value
      reg.list[#reg.list + 1] = value
    else
      if strict then return nil, ("broken %s plugin: %s"):format(self.spec.noun, err) end
      reg.broken[#reg.broken + 1] = note_broken(self.spec.noun, entry.path, err)
    end
  end
  self.loaded = reg
  remember(good)
  return reg
end

--- Vouch for every plugin of this kind without keeping them: the ones the index
--- knows unchanged are not loaded, the others are (a broken one is noted for
--- M.report, or is an error under strict). true or nil, message.
function Registry:check_all(opts)
  opts = opts or {}
  -- Once per process, like load_all: a batch prepares every request through here.
  if self.loaded or self.checked then return true end
  if opts.strict or settings.strict then
    local reg, err = self:load_all(opts)
    return reg and true, err
  end
  local good = {}
  for _, entry in ipairs(paths.list(self.spec.kind, ".lua")) do
    local sig = self.one[entry.name] == nil and signature(entry.path)
    if sig ~= false and not known_entry(entry.path, sig) then
      local value, err = self:load_file(entry)
      if value then
        self.one[entry.name] = {path = entry.path, value = value}
        good[#good + 1] = {path = entry.path, sig = sig, summary = self:summary_of(value)}
      else
        note_broken(self.spec.noun, entry.path, err)
      end
    end
  end
  remember(good)
  self.checked = true
  return true
end

-- The plugin `name` alone (default mode): its value, or nil, message when its file is
-- broken, or nil when there is no such file.
function Registry:load_one(name)
  local one = self.one[name]
  if one then return one.value end
  for _, entry in ipairs(paths.list(self.spec.kind, ".lua")) do
    if entry.name == name then
      local sig = settings.index and signature(entry.path)
      local value, err = self:load_file(entry)
      if not value then
        note_broken(self.spec.noun, entry.path, err).reported = true
        return nil, ("%s '%s' is broken: %s"):format(self.spec.noun, name, err)
      end
      self.one[name] = {path = entry.path, value = value}
      remember({{path = entry.path, sig = sig, summary = self:summary_of(value)}})
      return value
    end
  end
  return nil
end

function Registry:summary_of(value)
  return self.spec.summary and self.spec.summary(value) or nil
end

--- What a listing of this kind needs (spec.summary's data, e.g. a rule's name, summary
--- and parameter types for the system prompt), for every plugin, sorted by name: from
--- the index for unchanged files, else from loading them. A list, or nil, message
--- under strict when one is broken.
function Registry:summaries(opts)
  opts = opts or {}
  local strict = opts.strict or settings.strict
  if strict or self.loaded then
    local reg, err = self:load_all(opts)
    if not reg then return nil, err end
    local out = {}
    for i, v in ipairs(reg.list) do out[i] = self:summary_of(v) end
    return out
  end
  local out, good = {}, {}
  for _, entry in ipairs(paths.list(self.spec.kind, ".lua")) do
    local one = self.one[entry.name]
    local summary
    if one and one.path == entry.path then
      summary = self:summary_of(one.value)
    else
      local sig = signature(entry.path)
      local e = known_entry(entry.path, sig)
      if e and self.spec.summary_ok(e.summary, entry) then
        summary = e.summary
      else
        local value, err = self:load_file(entry)
        if value then
          self.one[entry.name] = {path = entry.path, value = value}
          summary = self:summary_of(value)
          good[#good + 1] = {path = entry.path, sig = sig, summary = summary}
        else
          note_broken(self.spec.noun, entry.path, err)
        end
      end
    end
    out[#out + 1] = summary
  end
  remember(good)
  return out
end

--- Forget what was loaded (after paths.setup changes the search path).
function Registry:reset()
  self.loaded, self.one, self.checked = nil, {}, nil
end

--- The plugin named `name`: the stored value or nil, message (a broken one says why,
--- and is then not warned about again; an unknown one lists the closest names). Only
--- that plugin's file is loaded (strict mode loads them all, so any broken one fails).
function Registry:get(name, opts)
  if not self.loaded and type(name) == "string" and not ((opts and opts.strict) or settings.strict) then
    local value, err = self:load_one(name)
    if value or err then return value, err end
  end
  local reg, err = self:load_all(opts)
  if not reg then return nil, err end
  local noun = self.spec.noun
  if type(name) ~= "string" then return nil, ("a %s name must be a string"):format(noun) end
  local v = reg.by_name[name]
  if v then return v end
  for _, b in ipairs(reg.broken) do
    if util.basename(b.path) == name .. ".lua" then
      b.reported = true
      return nil, ("%s '%s' is broken: %s"):format(noun, name, b.error)
    end
  end
  local names = self:names()
  if self.spec.unknown then return nil, self.spec.unknown(name, names) end
  return nil, ("unknown %s '%s'%s"):format(noun, name, util.suggest(name, names))
end

--- The names of the loaded plugins, sorted.
function Registry:names()
  local reg = self:load_all() or {list = {}}
  local names = {}
  for n in pairs(reg.by_name) do names[#names + 1] = n end
  table.sort(names)
  return names
end

--- Warn once about each broken plugin not already named in an error; the CLI calls it
--- when a command ends, so a command reports each broken plugin exactly once.
function M.report()
  for _, b in ipairs(broken_seen) do
    if not b.reported then
      b.reported = true
      log.warn(b.noun == "type" and "types.load" or "checks.load",
        {status = "skipped", error = b.error, file = b.path})
    end
  end
end

return M

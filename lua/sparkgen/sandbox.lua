-- sandbox.lua — the one place sparkgen runs Lua that a team wrote: config files,
-- `--context` literals, type and rule plugins (loading them and every function they
-- carry), templates and prompts while they render, Lua batch files and recipes.
--
-- What sandboxed code sees is an environment built here: read-only copies of the safe
-- parts of the standard library (string without dump, table, math, utf8, os.time/date/
-- clock/difftime), the plain base functions, and what the caller lends (a template's
-- variables, a recipe's `require "sparkgen"`). No io, os.execute, load, dofile,
-- require, debug, package, collectgarbage, coroutine or rawset. Reading a name that is
-- not there is an error naming it, with the closest names that exist. A library table
-- cannot be changed (for the engine or for another plugin): its fields are read-only,
-- its metatable is protected, and getmetatable only returns metatables the sandboxed
-- code set itself (so getmetatable("").__index is not the engine's string table);
-- setmetatable refuses __gc, which would run later outside the budget.
--
-- Every run is bounded by sparkgen.sandbox_core (src/sandbox.c): an instruction budget
-- (count hook) and a memory budget (the host's counting allocator), each reported as
-- one line naming the file and line. Values a sandboxed chunk returns are copied into
-- plain tables (M.plain) before the engine uses them, so no metamethod of theirs runs
-- later in engine code.
local core = require "sparkgen.sandbox_core"
local util = require "sparkgen.util"

local M = {}

local MB = 1024 * 1024

--- The budgets of one sandboxed call (config key `sandbox`).
M.DEFAULTS = {instructions = 1e8, memory_mb = 64}

local budget = {instructions = M.DEFAULTS.instructions, memory = M.DEFAULTS.memory_mb * MB}

--- configure{instructions = n, memory_mb = n}: the budgets for later calls (the config
--- is checked for range before it gets here).
function M.configure(opts)
  opts = opts or {}
  budget.instructions = opts.instructions or M.DEFAULTS.instructions
  budget.memory = (opts.memory_mb or M.DEFAULTS.memory_mb) * MB
end

function M.budgets()
  return {instructions = budget.instructions, memory_mb = budget.memory / MB}
end

--- The closest of `names` to `name` (one, or nil when none is close).
function M.closest(name, names)
  return util.closest(name, names, 1)[1]
end

---------------------------------------------------------------------------------------
-- Read-only copies of library tables.

local function readonly(src, name, keep)
  local copy = {}
  for k, v in pairs(src) do
    if keep == nil or keep[k] then copy[k] = v end
  end
  return setmetatable({}, {
    __index = function(_, k)
      local v = copy[k]
      if v == nil then
        local names = {}
        for n in pairs(copy) do names[#names + 1] = n end
        local near = type(k) == "string" and M.closest(k, names)
        error(("%s has no field '%s'%s"):format(name, tostring(k),
          near and (" (did you mean '" .. name .. "." .. near .. "'?)") or ""), 2)
      end
      return v
    end,
    __newindex = function(_, k)
      error(("%s is read-only: cannot set %s.%s"):format(name, name, tostring(k)), 2)
    end,
    __pairs = function() return next, copy, nil end,
    __len = function() return #copy end,
    __metatable = false,
  })
end
M.readonly = readonly

local string_lib = {}
for k, v in pairs(string) do if k ~= "dump" then string_lib[k] = v end end

-- Metatables the sandboxed code set (weak), the only ones getmetatable returns.
local own_metatables = setmetatable({}, {__mode = "k"})

local function safe_setmetatable(t, mt)
  if type(t) ~= "table" then error("setmetatable: a table expected", 2) end
  if mt ~= nil then
    if type(mt) ~= "table" then error("setmetatable: a table or nil expected as metatable", 2) end
    if rawget(mt, "__gc") ~= nil then error("setmetatable: __gc is not allowed here", 2) end
    own_metatables[mt] = true
  end
  local ok, err = pcall(setmetatable, t, mt)
  if not ok then error("setmetatable: " .. tostring(err), 2) end
  return t
end

local function safe_getmetatable(v)
  local mt = getmetatable(v)
  if type(mt) == "table" and own_metatables[mt] then return mt end
  return nil
end

local BASE = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
  select = select, tonumber = tonumber, tostring = tostring, type = type, xpcall = xpcall,
  rawequal = rawequal, rawlen = rawlen, rawget = rawget,
  setmetatable = safe_setmetatable, getmetatable = safe_getmetatable,
  _VERSION = _VERSION,
  string = readonly(string_lib, "string"),
  table = readonly(table, "table"),
  math = readonly(math, "math"),
  utf8 = readonly(utf8, "utf8"),
  os = readonly(os, "os", {time = true, date = true, clock = true, difftime = true}),
}
M.BASE_NAMES = {}
for k in pairs(BASE) do M.BASE_NAMES[#M.BASE_NAMES + 1] = k end
table.sort(M.BASE_NAMES)

--- The message for an unknown name in ordinary code.
local function unknown_global(name, names)
  local near = M.closest(name, names)
  return ("unknown name '%s'%s"):format(name, near and (" (did you mean '" .. near .. "'?)") or "")
end

-- Engine tables lent to sandboxed code, by table: their read-only views (weak).
local lent_views = setmetatable({}, {__mode = "k"})

--- A read-only view of an engine value, deep: tables inside are viewed the same way
--- when read, so sandboxed code can read (index, #, ipairs, pairs, table.concat) but not
--- change the engine's tables or give them a metatable whose metamethods would later
--- run in engine code.
function M.lend(v)
  if type(v) ~= "table" then return v end
  local view = lent_views[v]
  if view then return view end
  view = setmetatable({}, {
    __index = function(_, k) return M.lend(v[k]) end,
    __newindex = function(_, k) error(("cannot change '%s': what the engine lends is read-only"):format(tostring(k)), 2) end,
    __len = function() return #v end,
    __pairs = function()
      return function(_, k)
        local nk, nv = next(v, k)
        return nk, M.lend(nv)
      end, view, nil
    end,
    __metatable = false,
  })
  lent_views[v] = view
  return view
end

--- env{vars = {...}|nil, lend = bool, bare = bool, unknown = fn(name) -> message | nil}
--- A fresh environment: `vars` (lent by the caller, looked up first; with `lend`, as
--- read-only views), then the safe base (unless bare). Reading any other name raises
--- unknown(name) at the reader's line. Assigning a global stores it in this
--- environment only.
function M.env(opts)
  opts = opts or {}
  local vars, bare = opts.vars, opts.bare
  local unknown, lend = opts.unknown, opts.lend
  return setmetatable({}, {__index = function(_, k)
    local v
    if vars then
      v = vars[k]
      if lend then v = M.lend(v) end
    end
    if v == nil and not bare then v = BASE[k] end
    if v ~= nil then return v end
    local name = tostring(k)
    local msg
    if unknown then
      msg = unknown(name)
    else
      local names = {}
      if not bare then table.move(M.BASE_NAMES, 1, #M.BASE_NAMES, 1, names) end
      for n in pairs(vars or {}) do if type(n) == "string" then names[#names + 1] = n end end
      msg = unknown_global(name, names)
    end
    error(msg, 2)
  end, __metatable = false})
end

--- A read-only copy of `t` (its own fields; tables inside stay as they are), for what
--- the engine lends several sandboxed chunks.
function M.frozen(t, name)
  return readonly(t, name)
end

---------------------------------------------------------------------------------------
-- Running.

--- pcall(fn, ...) under the budgets → true, results... or false, message, kind
--- ("instructions" | "memory" | "error"). A budget error names the file and line.
function M.pcall(fn, ...)
  return core.call(budget.instructions, budget.memory, fn, ...)
end

--- fn wrapped so that, called from sandboxed code, it runs with the budgets suspended
--- (engine work a recipe asks for is not the recipe's to pay for).
M.trusted = core.trusted

--- load(text, chunkname, env) → function or nil, message. Text only: a binary chunk is
--- refused (Lua's bytecode loader is not safe against crafted input).
function M.load(text, chunkname, env)
  return load(text, chunkname, "t", env)
end

local MAX_DEPTH = 100

--- A plain deep copy of a value a sandboxed chunk returned: tables copied with raw
--- access and without metatables (shared and cyclic parts stay shared), functions
--- kept (call them with M.pcall). Returns the copy or nil, message.
function M.plain(value)
  local seen = {}
  local function copy(v, depth)
    if type(v) ~= "table" then return v end
    if seen[v] then return seen[v] end
    if depth > MAX_DEPTH then error(("nested deeper than %d tables"):format(MAX_DEPTH), 0) end
    local out = {}
    seen[v] = out
    local k, x = next(v)
    while k ~= nil do
      out[copy(k, depth + 1)] = copy(x, depth + 1)
      k, x = next(v, k)
    end
    return out
  end
  local ok, out = pcall(copy, value, 0)
  if not ok then return nil, tostring(out) end
  return out
end

--- Run a chunk (text) under the budgets and return its plain result:
--- run(text, chunkname, env, ...) → value or nil, message.
function M.run(text, chunkname, env, ...)
  local fn, err = M.load(text, chunkname, env)
  if not fn then return nil, err end
  local ok, value = M.pcall(fn, ...)
  if not ok then return nil, value end
  return M.plain(value)
end

--- Run a Lua file that returns a value (a plugin, a config file, a batch list):
--- dofile(path, env, read) → true, value, text or nil, "path:line: message". `read`
--- reads the file (util.read_file), passed in so this module holds no file policy.
function M.dofile(path, env, read)
  local text, err = read(path)
  if not text then return nil, err end
  local fn, lerr = M.load(text, "@" .. path, env)
  if not fn then return nil, lerr end
  local ok, value = M.pcall(fn)
  if not ok then return nil, value end
  local plain, perr = M.plain(value)
  if perr then return nil, ("%s: %s"):format(path, perr) end
  return true, plain, text
end

--- The context literal sandbox: no names at all, so a bare word is reported as the
--- string it was probably meant to be.
local function unknown_in_literal(name)
  return ("unknown name '%s' — did you mean \"%s\"? (quote strings in a Lua literal)"):format(name, name)
end

--- A Lua table literal given on the command line (`--context '{k = "v"}'`) → the table
--- or nil, message. It runs with no names, under the budgets.
function M.literal(text, what)
  local env = M.env{bare = true, unknown = unknown_in_literal}
  local value, err = M.run("return " .. text, "=" .. what, env)
  if err then
    return nil, (err:gsub("^" .. what:gsub("%p", "%%%0") .. ":1: ", ""))
  end
  if type(value) ~= "table" then return nil, ("expected a table, got %s"):format(type(value)) end
  return value
end

return M

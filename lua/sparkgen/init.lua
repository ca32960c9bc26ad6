-- init.lua — the public API for recipes (`local sg = require "sparkgen"`).
--   sg.generate{source = "orders", type = "revenue_by_category",
--               context = {time_period = "last_month"}, job = "out/revenue.py"}
--   sg.generate_all{ {...}, {...}, concurrency = 8 }
-- Expected failures return nil, message (Lua's convention), so a recipe decides what a
-- failure means for it. Configuration is the command line's: config files, environment,
-- and the flags of the `sparkgen` invocation; sg.configure{...} overrides keys.
local M = {}

local state = {config = nil}

--- Use a resolved configuration (from the CLI), or override keys of the current one:
--- sg.configure{schema = "examples/shop/schema.json", provider = "template"}.
--- Returns true or nil, message (an unknown key is named).
function M.configure(cfg)
  local config = require "sparkgen.config"
  local util = require "sparkgen.util"
  if cfg and cfg._sources then
    state.config = cfg
  else
    local ok, err = config.check(cfg or {}, "sg.configure")
    if not ok then return nil, err end
    if state.config then
      -- keep what the command line resolved; apply only the overrides
      local merged = util.deepcopy(state.config)
      for k, v in pairs(cfg or {}) do merged[k] = v end
      state.config = merged
    else
      local loaded, lerr = config.load{flags = cfg or {}}
      if not loaded then return nil, lerr end
      state.config = loaded
    end
  end
  require("sparkgen.paths").setup{user = state.config.paths}
  require("sparkgen.sandbox").configure(state.config.sandbox)
  require("sparkgen.registry").configure{strict = state.config.strict,
                                         index = require("sparkgen.cli").plugin_index(state.config)}
  return true
end

function M.config()
  if not state.config then assert(M.configure{}) end
  return state.config
end

-- The keys of a request table; anything else is a typo to report, never to ignore.
local REQUEST_KEYS = {"context", "job", "keep_invalid", "source", "tables", "text", "type"}
local BATCH_KEYS = {"concurrency", "on_progress"}

local function unknown_key(t, known, skip_list)
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for _, k in ipairs(require("sparkgen.util").sorted_keys(t)) do
    if not set[k] and not (skip_list and math.type(k) == "integer") then
      return ("unknown key '%s'%s (known: %s)"):format(tostring(k),
        require("sparkgen.util").suggest(tostring(k), known), table.concat(known, ", "))
    end
  end
end

-- A request table → the generator's request, or nil, message.
local function request_of(spec)
  if type(spec) ~= "table" then return nil, "a request must be a table {source=, type=, context=}" end
  local bad = unknown_key(spec, REQUEST_KEYS)
  if bad then return nil, bad end
  return {source = spec.source, type = spec.type or spec.text, context = spec.context, tables = spec.tables}
end

local function maybe_write_job(result, spec)
  if not spec.job then return true end
  return M.write_job(result, spec.job)
end

--- Generate one request. Returns the result, or nil, message. A result that failed the
--- checks is an error here (message lists the findings) unless spec.keep_invalid.
function M.generate(spec)
  local generator = require "sparkgen.generator"
  local req, rerr = request_of(spec)
  if not req then return nil, "sg.generate: " .. rerr end
  local result, err = generator.generate(req, M.config())
  if not result then return nil, err end
  if not result.ok and not spec.keep_invalid then
    local request = require "sparkgen.request"
    local lines = {}
    for _, f in ipairs(result.findings) do lines[#lines + 1] = request.finding_line(f) end
    return nil, "generated code failed its checks: " .. table.concat(lines, "; "), result
  end
  local ok, jerr = maybe_write_job(result, spec)
  if not ok then return nil, jerr end
  return result
end

--- Generate many requests in parallel. Returns a list in input order whose entries
--- are results, or {error = message} for requests that failed, plus a summary.
function M.generate_all(specs)
  local generator = require "sparkgen.generator"
  if type(specs) ~= "table" then return nil, "sg.generate_all: expected a list of requests" end
  local bad = unknown_key(specs, BATCH_KEYS, true)
  if bad then return nil, "sg.generate_all: " .. bad end
  local reqs = {}
  for i, spec in ipairs(specs) do
    local req, rerr = request_of(spec)
    if not req then return nil, ("sg.generate_all: request %d: %s"):format(i, rerr) end
    reqs[i] = req
  end
  local outcomes, summary = generator.generate_all(reqs, M.config(), {concurrency = specs.concurrency,
    on_progress = specs.on_progress})
  local out = {}
  for i, o in ipairs(outcomes) do
    if o.result and o.result.ok then
      local ok, jerr = maybe_write_job(o.result, specs[i])
      out[i] = ok and o.result or {error = jerr}
    elseif o.result then
      out[i] = {error = "generated code failed its checks", result = o.result}
    else
      out[i] = {error = o.error}
    end
  end
  return out, summary
end

--- Write a runnable job for a result.
function M.write_job(result, path)
  return require("sparkgen.job").write(result, path, M.config())
end

--- The registered transformation types (list of type tables).
function M.types()
  local reg, err = require("sparkgen.types").load_all{strict = M.config().strict}
  if not reg then return nil, err end
  return reg.list
end

--- The schema sparkgen sees (see schema.lua for its methods).
function M.schema()
  return require("sparkgen.generator").schema(M.config())
end

-- How the recipe asked to stop (sg.usage / sg.fail), for `sparkgen run`.
local stop = nil

--- Stop the recipe with a usage error: `sparkgen: usage: MESSAGE`, exit status 2.
---   sg.usage("sparkgen run weekly_pack.lua OUT_DIR")
function M.usage(message)
  stop = {status = 2, message = "usage: " .. tostring(message)}
  error(stop.message, 0)
end

--- Stop the recipe with a failure: `sparkgen: MESSAGE`, exit status 1.
function M.fail(message)
  stop = {status = 1, message = tostring(message)}
  error(stop.message, 0)
end

--- {status=, message=} when the recipe stopped through usage/fail (and forget it).
function M.take_stop()
  local s = stop
  stop = nil
  return s
end

-- What a sandboxed recipe gets from require "sparkgen": the documented functions, each
-- running with the sandbox's budgets suspended (the engine's work is not the recipe's
-- to pay for), and copies of what they return so the recipe cannot change the
-- engine's own tables (a type's definition, the configuration).
local RECIPE_API = {"configure", "generate", "generate_all", "write_job", "usage", "fail"}

function M.recipe_api()
  local sandbox = require "sparkgen.sandbox"
  local util = require "sparkgen.util"
  local api = {}
  for _, name in ipairs(RECIPE_API) do
    local fn = M[name]
    -- arguments copied raw, so no metamethod of the recipe's runs in engine code
    api[name] = sandbox.trusted(function(...)
      local args = table.pack(...)
      for i = 1, args.n do args[i] = assert(sandbox.plain(args[i])) end
      -- a callback of the recipe's runs under the budgets, like the rest of it
      local a = args[1]
      if type(a) == "table" and type(a.on_progress) == "function" then
        local cb = a.on_progress
        a.on_progress = function(...)
          local ok, err = sandbox.pcall(cb, ...)
          if not ok then error(err, 0) end
        end
      end
      return fn(table.unpack(args, 1, args.n))
    end)
  end
  api.config = sandbox.trusted(function() return util.deepcopy(M.config()) end)
  api.types = sandbox.trusted(function()
    local list, err = M.types()
    if not list then return nil, err end
    return util.deepcopy(list)
  end)
  return sandbox.frozen(api, "sparkgen")
end

return M

-- config.lua — layered configuration.
-- Lowest to highest: built-in defaults < $XDG_CONFIG_HOME/sparkgen/config.lua <
-- ./sparkgen.lua < environment < command-line flags. A config file is a Lua chunk that
-- returns a table; every key is checked against DEFAULTS, and an unknown key is an
-- error naming the key and the file.
local util = require "sparkgen.util"

local M = {}

--- Every known key with its default. A nested table is a section; its keys are checked
--- too. `false` means "off"/"not set" for optional values that must still be declared.
M.DEFAULTS = {
  -- where the schema comes from
  db = false,                 -- libpq connection string/URI (else DATABASE_URL / PG* variables)
  schema = false,             -- JSON snapshot file (offline mode)
  schemas = false,            -- list of PostgreSQL schemas to read (default: all non-system)
  schema_ttl = 1800,          -- seconds a live catalog snapshot stays fresh in the cache
  allow_stale = false,        -- use an expired snapshot when the database is unreachable
  refresh = false,            -- bypass the schema cache
  statement_timeout_ms = 30000,
  connect_timeout_s = 10,
  prompt_table_budget = 40,   -- most tables described to the model

  -- the model
  provider = false,           -- template | anthropic | openai (default: anthropic when a key is set)
  model = false,              -- default per provider
  max_tokens = 8192,
  temperature = 0,
  max_repairs = 2,
  plan_check = "auto",        -- analyse code on Spark with empty tables: auto | on | off (plancheck.lua)
  candidates = 1,             -- answers to ask for and choose from by agreement (candidates.lua)
  sample_rows = 1000,         -- rows per table the candidates run on
  anthropic = {base_url = "https://api.anthropic.com", version = "2023-06-01",
               model = "claude-sonnet-5", beta = false, stream = false},
  models = {},                -- capabilities per model id (see llm/models.lua)
  prices = {},                -- USD per million tokens per model id (see llm/prices.lua)
  openai = {base_url = "http://127.0.0.1:11434", model = "llama3.1", api_key_env = "OPENAI_API_KEY"},

  -- HTTP
  http = {timeout_s = 600, connect_timeout_s = 5, retries = 2, concurrency = 4},

  -- the caches
  cache = {enabled = true, dir = false, ttl_s = 30 * 24 * 3600, max_entries = 10000,
           max_bytes = 256 * 1024 * 1024, lru_entries = 256},

  -- plugins and behaviour
  paths = {},                 -- user directories with types/, rules/, prompts/, templates/
  tables = {},                -- type table name → this database's table: {orders = "sales.orders"}
  strict = false,             -- a broken user plugin is an error instead of a warning
  keep_invalid = false,
  lint = {},                  -- policy overrides (see lint.lua)

  -- logging
  log = {level = "warn", format = "auto"},

  -- the sandbox every user-written piece of Lua runs in (sandbox.lua): budgets per call
  sandbox = {instructions = 1e8, memory_mb = 64},

  -- the history of generations (history.lua, `sparkgen log`); --no-log turns it off
  history = {enabled = true, file = false},  -- file default: $XDG_DATA_HOME/sparkgen/history.db

  -- running jobs
  spark = {submit = false, master = "local[*]", python = false,
           remote = false,          -- Spark Connect URL sc://HOST:PORT (else SPARK_REMOTE)
           packages = "org.postgresql:postgresql:42.7.14", jar = false,
           conf = {}, fetch_size = 10000, partition_rows = 1000000, num_partitions = 8,
           single_file_rows = 1000000, -- results up to this many rows are written as one file
           pass_env = {}},          -- extra variable names spark-submit may see (see spark.lua)
}

-- What each value must be beyond its type: ranges, enums, finiteness. A key's value is
-- checked in every layer it is set (file, environment, flags, sg.configure), so the
-- error names the key and where it came from. `gt`/`min`/`max` bound numbers; NaN and
-- infinities are never accepted; `integer` also takes integral floats (1e3).
local RULES = {
  db = {kind = "string"}, schema = {kind = "string"}, model = {kind = "string"},
  schema_ttl = {kind = "number", min = 0},
  statement_timeout_ms = {kind = "integer", min = 1, max = 2147483647},
  connect_timeout_s = {kind = "number", gt = 0, max = 3600},
  prompt_table_budget = {kind = "integer", min = 1, max = 100000},
  provider = {kind = "enum", values = {"template", "anthropic", "openai"}},
  max_tokens = {kind = "integer", min = 1, max = 1000000},
  temperature = {kind = "number", min = 0, max = 2},
  max_repairs = {kind = "integer", min = 0, max = 10},
  plan_check = {kind = "enum", values = {"auto", "on", "off"}},
  candidates = {kind = "integer", min = 1, max = 20},
  sample_rows = {kind = "integer", min = 1, max = 10000000},
  ["http.timeout_s"] = {kind = "number", gt = 0, max = 86400},
  ["http.connect_timeout_s"] = {kind = "number", gt = 0, max = 3600},
  ["http.retries"] = {kind = "integer", min = 0, max = 10},
  ["http.concurrency"] = {kind = "integer", min = 1, max = 256},
  ["cache.dir"] = {kind = "string"},
  ["cache.ttl_s"] = {kind = "number", gt = 0},
  ["cache.max_entries"] = {kind = "integer", min = 1},
  ["cache.max_bytes"] = {kind = "integer", min = 1},
  ["cache.lru_entries"] = {kind = "integer", min = 0, max = 1000000},
  ["log.level"] = {kind = "enum", values = {"debug", "info", "warn", "error", "off"}},
  ["log.format"] = {kind = "enum", values = {"json", "text", "auto"}},
  ["sandbox.instructions"] = {kind = "integer", min = 10000, max = 1e12},
  ["sandbox.memory_mb"] = {kind = "number", min = 1, max = 65536},
  ["spark.submit"] = {kind = "string"}, ["spark.python"] = {kind = "string"}, ["spark.jar"] = {kind = "string"},
  ["spark.fetch_size"] = {kind = "integer", min = 1, max = 10000000},
  ["spark.partition_rows"] = {kind = "integer", min = 1},
  ["spark.num_partitions"] = {kind = "integer", min = 1, max = 100000},
  ["spark.remote"] = {kind = "string"},
  ["spark.single_file_rows"] = {kind = "integer", min = 0},
}
M.RULES = RULES

local function range_text(r)
  local lo = r.gt and ("greater than " .. r.gt) or (r.min and ("at least " .. r.min))
  if lo and r.max then
    if r.min then return ("from %s to %s"):format(r.min, ("%.14g"):format(r.max)) end
    return ("%s and at most %s"):format(lo, ("%.14g"):format(r.max))
  end
  return lo or (r.max and ("at most %.14g"):format(r.max)) or ""
end

-- nil when v fits rule r, else what it must be.
local function violates(r, v)
  if r.kind == "string" then
    if type(v) ~= "string" or v == "" then return "a non-empty string" end
  elseif r.kind == "enum" then
    for _, x in ipairs(r.values) do if v == x then return nil end end
    return "one of " .. table.concat(r.values, ", "), type(v) == "string" and util.suggest(v, r.values) or ""
  else
    local what = (r.kind == "integer" and "an integer " or "a number ") .. range_text(r)
    what = what:gsub("%s+$", "")
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then return what end
    if r.kind == "integer" and math.type(v) ~= "integer" and v ~= math.floor(v) then return what end
    if (r.gt and v <= r.gt) or (r.min and v < r.min) or (r.max and v > r.max) then return what end
  end
  return nil
end

local function show(v)
  if type(v) == "string" then return ("'%s'"):format(v) end
  if type(v) == "number" then
    if v ~= v then return "nan" end
    return ("%.14g"):format(v)
  end
  return type(v)
end

-- Sections whose contents are free-form (user-defined keys allowed).
local OPEN_SECTIONS = {lint = true, ["spark.conf"] = true, paths = true, schemas = true,
                       models = true, prices = true,  -- models/prices: checked by llm/
                       tables = true}                 -- tables: checked by generator.prepare

local function check_keys(tbl, defaults, prefix, file)
  for k, v in pairs(tbl) do
    local name = prefix .. tostring(k)
    if type(k) ~= "string" then
      return nil, ("%s: unexpected non-string key %s in the config table"):format(file, name)
    end
    local d = defaults[k]
    if d == nil then
      local known = {}
      for _, key in ipairs(util.sorted_keys(defaults)) do known[#known + 1] = prefix .. key end
      return nil, ("%s: unknown config key '%s'%s"):format(file, name, util.suggest(name, known))
    end
    if type(d) == "table" and not OPEN_SECTIONS[name] and next(d) ~= nil and (d[1] == nil) then
      if type(v) ~= "table" then
        -- `log` is diagnostic logging; the history of generations has its own section.
        local hint = name == "log" and v == false and " (to stop recording generations, use history = {enabled = false})" or ""
        return nil, ("%s: config key '%s' must be a table%s"):format(file, name, hint)
      end
      local ok, err = check_keys(v, d, name .. ".", file)
      if not ok then return nil, err end
    elseif d ~= false and type(d) ~= type(v) and not (type(d) == "table" and type(v) == "table") then
      return nil, ("%s: config key '%s' must be a %s, got %s"):format(file, name, type(d), type(v))
    elseif RULES[name] and not (d == false and v == false) then
      local want, hint = violates(RULES[name], v)
      if want then
        return nil, ("%s: config key '%s' must be %s, got %s%s"):format(file, name, want, show(v), hint or "")
      end
      -- integral floats (1e3) become integers, which C and string formats expect
      if RULES[name].kind == "integer" and math.type(v) == "float" then tbl[k] = math.tointeger(v) end
    end
  end
  return true
end

--- Check a table of keys (a config file's, or overrides from a recipe) against DEFAULTS.
--- `origin` names where they came from in the error. Returns true or nil, message.
function M.check(tbl, origin)
  return check_keys(tbl, M.DEFAULTS, "", origin)
end

local function merge(into, from)
  for k, v in pairs(from) do
    if type(v) == "table" and type(into[k]) == "table" and v[1] == nil and next(v) ~= nil then
      merge(into[k], v)
    else
      into[k] = v
    end
  end
end

--- Load one config file: table or nil, message. A missing file is not an error
--- (returns false). The file runs in the sandbox (sandbox.lua) with os.getenv lent, so
--- a loop, a memory bomb or an unknown name is one line naming the file and line.
function M.load_file(path)
  if not util.file_exists(path) then return false end
  local sandbox = require "sparkgen.sandbox"
  local env = sandbox.env{vars = {os = sandbox.frozen({getenv = os.getenv, time = os.time, date = os.date,
                                                         clock = os.clock, difftime = os.difftime}, "os")}}
  local ok, value = sandbox.dofile(path, env, util.read_file)
  if not ok then return nil, ("broken config file %s"):format(tostring(value)) end
  if type(value) ~= "table" then
    return nil, ("%s: a config file must return a table, got %s"):format(path, type(value))
  end
  local kok, kerr = check_keys(value, M.DEFAULTS, "", path)
  if not kok then return nil, kerr end
  return value
end

-- The variable behind each checked key of the environment layer, for its errors.
local ENV_VARS = {provider = "SPARKGEN_PROVIDER", ["log.level"] = "SPARKGEN_LOG", model = "SPARKGEN_MODEL",
                  schema = "SPARKGEN_SCHEMA", ["cache.dir"] = "SPARKGEN_CACHE_DIR"}

local function env_layer()
  local e = {}
  local function set(key, value) if value and value ~= "" then e[key] = value end end
  set("db", os.getenv("SPARKGEN_DB") or os.getenv("DATABASE_URL"))
  set("schema", os.getenv("SPARKGEN_SCHEMA"))
  set("provider", os.getenv("SPARKGEN_PROVIDER"))
  set("model", os.getenv("SPARKGEN_MODEL"))
  local base = os.getenv("ANTHROPIC_BASE_URL")
  if base and base ~= "" then e.anthropic = {base_url = base} end
  local obase = os.getenv("OPENAI_BASE_URL")
  if obase and obase ~= "" then e.openai = {base_url = obase} end
  local lv = os.getenv("SPARKGEN_LOG")
  if lv and lv ~= "" then e.log = {level = lv} end
  local cdir = os.getenv("SPARKGEN_CACHE_DIR")
  if cdir and cdir ~= "" then e.cache = {dir = cdir} end
  local remote = os.getenv("SPARK_REMOTE") -- like pyspark: a Spark Connect endpoint
  if remote and remote ~= "" then e.spark = {remote = remote} end
  local sp = os.getenv("SPARKGEN_PATH")
  if sp and sp ~= "" then
    e.paths = {}
    for dir in sp:gmatch("[^:]+") do e.paths[#e.paths + 1] = dir end
  end
  return e
end

--- The user config file and the project file, in the order they apply.
function M.files(opts)
  local xdg = os.getenv("XDG_CONFIG_HOME")
  if not xdg or xdg == "" then xdg = (os.getenv("HOME") or ".") .. "/.config" end
  return {xdg .. "/sparkgen/config.lua", (opts and opts.project) or "./sparkgen.lua"}
end

--- sparkgen's data directory: $XDG_DATA_HOME/sparkgen (default ~/.local/share/sparkgen).
function M.data_dir()
  local xdg = os.getenv("XDG_DATA_HOME")
  if not xdg or xdg == "" then xdg = (os.getenv("HOME") or "/tmp") .. "/.local/share" end
  return xdg .. "/sparkgen"
end

--- Resolve the configuration: load{flags = {...}, files = {...}?}.
--- Returns cfg (with cfg._sources listing the files that applied) or nil, message.
function M.load(opts)
  opts = opts or {}
  local cfg = util.deepcopy(M.DEFAULTS)
  local sources = {}
  for _, path in ipairs(opts.files or M.files(opts)) do
    local layer, err = M.load_file(path)
    if layer == nil then return nil, err end
    if layer then
      -- A relative user root in a config file is relative to that file's directory,
      -- so `paths = {"."}` means the project, wherever sparkgen runs from.
      if type(layer.paths) == "table" then
        for i, dir in ipairs(layer.paths) do
          if type(dir) == "string" and dir:sub(1, 1) ~= "/" then
            local base = require("sparkgen.sys").realpath(util.dirname(path)) or util.dirname(path)
            layer.paths[i] = dir == "." and base or (base .. "/" .. dir)
          end
        end
      end
      merge(cfg, layer)
      sources[#sources + 1] = path
    end
  end
  local env = env_layer()
  local ok, err = check_keys(env, M.DEFAULTS, "", "environment")
  if not ok then
    -- name the variable the bad value came from
    local key = err:match("config key '([^']+)'")
    local var = key and ENV_VARS[key]
    if var then err = err:gsub("^environment:", "environment variable " .. var .. ":") end
    return nil, err
  end
  if opts.flags then
    ok, err = check_keys(opts.flags, M.DEFAULTS, "", "command line")
    if not ok then return nil, err end
  end
  -- SPARKGEN_PATH comes before the config's paths; both before the built-in root.
  if env.paths then
    for _, p in ipairs(cfg.paths) do env.paths[#env.paths + 1] = p end
  end
  merge(cfg, env)
  if opts.flags then merge(cfg, opts.flags) end
  if not cfg.cache.dir then
    local xdg = os.getenv("XDG_CACHE_HOME")
    if not xdg or xdg == "" then xdg = (os.getenv("HOME") or "/tmp") .. "/.cache" end
    cfg.cache.dir = xdg .. "/sparkgen"
  end
  if not cfg.history.file then cfg.history.file = M.data_dir() .. "/history.db" end
  cfg._sources = sources
  return cfg
end

--- The secret values the config knows about, for callers that must keep them out of
--- files. Keys are read from the environment only; config files never hold them.
function M.api_key(provider, cfg)
  if provider == "anthropic" then return os.getenv("ANTHROPIC_API_KEY") end
  if provider == "openai" then return os.getenv(cfg.openai.api_key_env or "OPENAI_API_KEY") end
  return nil
end

return M

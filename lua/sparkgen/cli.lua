-- cli.lua — the command line. Builds the argparse parser from the subcommand modules
-- in lua/sparkgen/commands/, resolves the configuration (flags are its highest
-- layer), configures logging and dispatches. Every expected failure ends as one line
-- `sparkgen: message` on stderr and a non-zero exit status (1 failure, 2 usage).
local argparse = require "argparse"

local M = {}

-- Subcommands in the order `--help` lists them, with their one-line summaries. Only the
-- module of the command being run is loaded (start-up time matters: a cached `generate`
-- or `schema TABLE` should take a few milliseconds), so the summaries live here too; a
-- spec checks that they match each module's M.summary.
M.COMMANDS = {
  {"generate", "Generate PySpark code for a request."},
  {"exec", "Generate a job and run it on Spark (spark-submit or Spark Connect)."},
  {"batch", "Generate many requests in parallel from a JSON-lines or Lua file."},
  {"run", "Run a recipe script that uses require \"sparkgen\"."},
  {"types", "List transformation types, show one, or write a new one (types new NAME)."},
  {"rules", "List validation rules, or write a new one (rules new NAME)."},
  {"schema", "Show the database schema sparkgen sees (tables, one table, dump, diff)."},
  {"prompt", "Print the request that would be sent to the model."},
  {"lint", "Check a PySpark body or job against the schema and the code policy."},
  {"eval", "Run an evaluation suite: generate, lint, run on Spark, compare with reference SQL."},
  {"log", "Show the history of generations: list, show ID, diff ID1 ID2, stats."},
  {"cache", "Show, prune or clear the response, facts and schema caches."},
  {"doctor", "Check the tools, database and settings sparkgen needs, with fix hints."},
  {"init", "Start a project: a commented sparkgen.lua and a user root with one example type."},
  {"completion", "Print a shell completion script: bash, zsh or fish."},
  {"man", "Print the manual page (roff), for man(1)."},
  {"spark", "Install the pinned pyspark for running jobs (sparkgen spark install)."},
}

-- Top-level options that take a value (so their value is not mistaken for a command).
local VALUE_OPTIONS = {["--log-level"] = true, ["--log-format"] = true, ["--config"] = true}

--- The subcommand named on the command line, if any.
local function wanted_command(argv)
  local known = {}
  for _, c in ipairs(M.COMMANDS) do known[c[1]] = true end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if VALUE_OPTIONS[a] then i = i + 1
    elseif a:sub(1, 1) ~= "-" then return known[a] and a or nil end
    i = i + 1
  end
  return nil
end

local EXIT_USAGE = 2

--- SOURCE and TYPE (a type name or free text) and --context: what every
--- request-taking command (generate, exec, prompt) starts with.
function M.add_request_arguments(cmd)
  cmd:argument("source", "The source table (name or schema.name).")
  cmd:argument("type", "A transformation type, or a free-form request in quotes.")
  M.add_context_option(cmd)
  cmd:option("--table", "Map a table the type names to this database's table: NAME=SCHEMA.TABLE (repeatable).")
     :argname("<name=table>"):count("*")
end

--- Options that say where the schema comes from.
function M.add_source_options(cmd)
  cmd:option("--db", "PostgreSQL connection string or URI (default: DATABASE_URL, PG* variables).")
     :argname("<conninfo>")
  cmd:option("--schema", "Read the schema from a JSON snapshot file instead of a database.")
     :argname("<file>"):target("schema_file")
  cmd:option("--schemas", "Comma-separated PostgreSQL schemas to read (default: all non-system).")
     :argname("<a,b>")
  cmd:flag("--refresh", "Ignore the cached schema snapshot and read the catalog again.")
  cmd:flag("--allow-stale", "Use an expired cached snapshot when the database is unreachable.")
end

--- Options that choose and tune the model.
function M.add_llm_options(cmd)
  cmd:option("--provider", "template, anthropic or openai (default: template when the type has one, else anthropic).")
     :choices({"template", "anthropic", "openai"})
  cmd:option("--model", "Model id (default from config: anthropic.model / openai.model).")
  cmd:flag("--no-cache", "Do not read or write the response cache.")
  cmd:option("--max-repairs", "Repair attempts after lint findings (default 2).")
     :convert(tonumber)
  cmd:option("--candidates", "Ask for N answers and return the one most of them agree on (runs them on a sample).")
     :argname("<n>"):convert(tonumber)
  cmd:option("--sample-rows", "Rows per table the candidates run on (default 1000)."):argname("<n>"):convert(tonumber)
  cmd:mutex(
    cmd:flag("--plan-check", "Analyse the code on Spark with empty tables before accepting it (needs Spark)."),
    cmd:flag("--no-plan-check", "Skip the plan check, also where it is on by default (eval).")
  )
end

--- --no-log: the commands that generate record each generation (history.lua).
function M.add_history_option(cmd)
  cmd:flag("--no-log", "Do not record the generations in the history (see 'sparkgen log').")
end

--- --json for machine-readable output.
function M.add_output_options(cmd)
  cmd:flag("--json", "Print the result as JSON.")
end

--- --context k=v (repeatable) or a Lua table literal {k = "v", ...}.
function M.add_context_option(cmd)
  cmd:option("-c --context", "Context parameter k=v (repeatable), or a Lua table literal {k = v, ...}.")
     :argname("<k=v>"):count("*")
end

-- Accepted before the command and after it. argparse gives a command's own option its
-- default even when the same option came before the command, so the top-level copies
-- land under "top_" targets and main() fills in what the command level left unset.
local COMMON = {"log_level", "log_format", "config", "strict"}

local function add_common_options(cmd, top)
  local prefix = top and "top_" or ""
  cmd:option("--log-level", "debug, info, warn, error or off (default warn; env SPARKGEN_LOG).")
     :choices({"debug", "info", "warn", "error", "off"}):target(prefix .. "log_level")
  cmd:option("--log-format", "json, text, or auto (text on a terminal).")
     :choices({"json", "text", "auto"}):target(prefix .. "log_format")
  cmd:option("--config", "Project config file to use instead of ./sparkgen.lua."):argname("<file>")
     :target(prefix .. "config")
  cmd:flag("--strict", "Treat a broken user plugin (type, rule) as an error."):target(prefix .. "strict")
end

--- The configuration layer made of the flags this command accepted.
local function flags_layer(args)
  local f = {}
  if args.db then f.db = args.db end
  if args.schema_file then f.schema = args.schema_file end
  if args.schemas then
    f.schemas = {}
    for s in args.schemas:gmatch("[^,%s]+") do f.schemas[#f.schemas + 1] = s end
  end
  if args.refresh then f.refresh = true end
  if args.allow_stale then f.allow_stale = true end
  if args.provider then f.provider = args.provider end
  if args.model then f.model = args.model end
  if args.no_cache then f.cache = {enabled = false} end
  if args.no_log then f.history = {enabled = false} end
  if args.max_repairs then f.max_repairs = math.tointeger(args.max_repairs) or args.max_repairs end
  if args.concurrency then f.http = {concurrency = args.concurrency} end
  if args.strict then f.strict = true end
  if args.keep_invalid then f.keep_invalid = true end
  if args.plan_check then f.plan_check = "on" elseif args.no_plan_check then f.plan_check = "off" end
  if args.candidates then f.candidates = math.tointeger(args.candidates) or args.candidates end
  if args.sample_rows then f.sample_rows = math.tointeger(args.sample_rows) or args.sample_rows end
  if args.master then f.spark = {master = args.master} end
  if args.log_level or args.log_format then
    f.log = {level = args.log_level, format = args.log_format}
  end
  return f
end

local function build_parser(host)
  local parser = argparse("sparkgen",
    "Turn data-transformation requests into reviewed, runnable Apache Spark (PySpark) code.")
    :epilog("Run 'sparkgen COMMAND --help' for a command's options. Docs: README.md.")
    :command_target("command")
    :require_command(false)
    :help_max_width(100)
  -- Printed by M.main after parsing (not os.exit here), so the host checks the write.
  parser:flag("--version", "Print the version and exit.")
  add_common_options(parser, true)
  local modules = {}
  local wanted = wanted_command(host.argv)
  -- Completions and the manual describe every command, so they need every module.
  local all = wanted == "completion" or wanted == "man"
  for _, c in ipairs(M.COMMANDS) do
    local name, summary = c[1], c[2]
    local cmd = parser:command(name, summary)
    if name == wanted or all then
      local mod = require("sparkgen.commands." .. name)
      add_common_options(cmd)
      mod.setup(cmd, M)
      modules[name] = mod
    end
  end
  return parser, modules
end

local function fail(msg, status)
  io.stderr:write("sparkgen: ", tostring(msg):gsub("\n+$", ""), "\n")
  return status or 1
end

--- The file of plugins known to load (registry.lua), in the cache directory.
function M.plugin_index(cfg)
  if cfg.cache.enabled == false or not cfg.cache.dir then return nil end
  return cfg.cache.dir .. "/plugins.json"
end

--- Resolve the configuration for parsed args and configure logging.
function M.configure(args)
  local config = require "sparkgen.config"
  local paths = require "sparkgen.paths"
  local log = require "sparkgen.log"
  local files
  if args.config then
    local util = require "sparkgen.util"
    if not util.file_exists(args.config) then return nil, ("config file %s: not found"):format(args.config) end
    files = {config.files()[1], args.config}
  end
  local cfg, err = config.load{flags = flags_layer(args), files = files}
  if not cfg then return nil, err end
  local ok, lerr = log.configure{level = cfg.log.level, format = cfg.log.format}
  if not ok then return nil, lerr end
  require("sparkgen.sandbox").configure(cfg.sandbox)
  require("sparkgen.registry").configure{strict = cfg.strict, index = M.plugin_index(cfg)}
  paths.setup{user = cfg.paths}
  return cfg
end

function M.main(host)
  local parser, modules = build_parser(host)
  local ok, args = parser:pparse(host.argv)
  if not ok then
    -- One line, like every other error; the usage is one --help away.
    local wanted = wanted_command(host.argv)
    return fail(("%s (see 'sparkgen %s--help')"):format(args, wanted and (wanted .. " ") or ""), EXIT_USAGE)
  end
  if args.version then
    io.stdout:write("sparkgen ", host.version, "\n")
    return 0
  end
  for _, k in ipairs(COMMON) do
    if args[k] == nil then args[k] = args["top_" .. k] end
  end
  if not args.command then
    io.stdout:write(parser:get_help(), "\n")
    return 0
  end
  local cfg, err = M.configure(args)
  if not cfg then return fail(err, 1) end
  local ctx = {config = cfg, stdout = io.stdout, host = host, parser = parser}
  require("sparkgen.history").command = args.command
  -- util.fail (an expected failure raised from deep inside) is one line and status 1;
  -- anything else raised is a bug and goes on, with its traceback, to the host.
  -- (The traceback is taken where the error happened; the object it travels in has a
  -- __tostring, which the host prints as it is instead of adding a second traceback.)
  local function handler(e)
    if require("sparkgen.util").is_failure(e) then return e end
    return setmetatable({text = debug.traceback(tostring(e), 2)}, {__tostring = function(t) return t.text end})
  end
  local ok, status, msg, code = xpcall(modules[args.command].run, handler, args, ctx)
  -- each broken plugin the command met and did not already name in its error: once
  if package.loaded["sparkgen.registry"] then package.loaded["sparkgen.registry"].report() end
  if not ok then
    if require("sparkgen.util").is_failure(status) then return fail(status.message, 1) end
    error(status, 0)
  end
  if status == nil then return fail(msg, code) end
  return status
end

return M

-- commands/spark.lua — `sparkgen spark install [--venv DIR] [--force]`: the pinned
-- pyspark (with the Spark Connect client's extras) in a virtual environment, by default
-- under $XDG_DATA_HOME/sparkgen/venv, where `exec`, `eval` and `doctor` find it from any
-- directory. `make spark` runs the same command for the checkout's ./.venv.
local spark = require "sparkgen.spark"
local util = require "sparkgen.util"

local M = {}

M.summary = "Install the pinned pyspark for running jobs (sparkgen spark install)."

-- What is installed; the marker file holds this line, so a change reinstalls.
M.REQUIREMENTS = {"pyspark[connect]==" .. spark.PYSPARK_VERSION,
                  -- pyspark 4.3 warns on every start that it does not support pandas 3
                  "pandas<3"}
M.MARKER = ".sparkgen-spark"

function M.setup(cmd)
  cmd:argument("action", "install: create (or update) the virtual environment with pinned pyspark.")
     :choices({"install"})
  cmd:option("--venv", "Where (default $XDG_DATA_HOME/sparkgen/venv)."):argname("<dir>")
  cmd:flag("--force", "Reinstall even when the environment is up to date.")
  cmd:flag("--verbose", "Show pip's output.")
end

-- pip sees sparkgen's allow-listed variables plus what pip itself is configured by
-- (proxies, PIP_*, CA bundles) — never an API key or a database password.
local function pip_env()
  local env = spark.environment({spark = {master = "yarn"}}, nil, {})
  env.SPARKGEN_JDBC_FILE = nil
  for _, name in ipairs{"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_INDEX_URL",
                        "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_TRUSTED_HOST",
                        "PIP_CERT", "PIP_CONFIG_FILE", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR",
                        "PIP_DEFAULT_TIMEOUT", "PIP_TIMEOUT", "PIP_RETRIES", "PIP_PROXY",
                        "PIP_ONLY_BINARY", "PIP_PREFER_BINARY", "XDG_CACHE_HOME"} do
    env[name] = os.getenv(name)
  end
  return env
end

local function run(argv, env)
  local proc = require "sparkgen.proc"
  local p, err = proc.spawn{argv = argv, env = env, stdin = "null", stdout = "inherit", stderr = "inherit"}
  if not p then return nil, ("cannot run %s: %s"):format(argv[1], tostring(err)) end
  local how, code = p:wait()
  p:close()
  if how == "exit" and code == 0 then return true end
  return nil, ("%s exited with %s %s"):format(table.concat(argv, " "), how, tostring(code))
end

--- Install into dir; returns a one-line summary, or nil, message.
function M.install(dir, opts)
  opts = opts or {}
  local want = table.concat(M.REQUIREMENTS, " ")
  local marker = dir .. "/" .. M.MARKER
  if not opts.force and util.read_file(marker) == want .. "\n"
     and util.file_exists(dir .. "/bin/spark-submit") then
    return ("%s is up to date (%s)"):format(dir, want)
  end
  local env = pip_env()
  if not util.file_exists(dir .. "/bin/python") then
    local python = os.getenv("SPARKGEN_PYTHON") or "python3"
    local ok, err = run({python, "-m", "venv", dir}, env)
    if not ok then
      return nil, err .. " (a virtual environment needs python3-venv: apt-get install python3-venv)"
    end
  end
  local argv = {dir .. "/bin/pip", "install", "--disable-pip-version-check"}
  if not opts.verbose then argv[#argv + 1] = "--quiet" end
  for _, r in ipairs(M.REQUIREMENTS) do argv[#argv + 1] = r end
  local ok, err = run(argv, env)
  if not ok then return nil, err end
  local wok, werr = util.write_file(marker, want .. "\n")
  if not wok then return nil, werr end
  return ("installed %s into %s"):format(want, dir)
end

function M.run(args, ctx)
  if args.action == "install" then
    local dir = args.venv or spark.venv_dir()
    if dir:sub(1, 1) ~= "/" then
      local sys = require "sparkgen.sys"
      local cwd = sys.realpath(".")
      dir = cwd .. "/" .. dir
    end
    local summary, err = M.install(dir, {force = args.force, verbose = args.verbose})
    if not summary then return nil, err end
    ctx.stdout:write(summary, "\n")
    return 0
  end
  return nil, "unknown spark command", 2
end

return M

-- spark.lua — where jobs run and what they are given. Finds spark-submit (or the venv's
-- python for Spark Connect), turns the libpq connection the schema layer uses into JDBC
-- settings, checks before Spark starts that the database answers and the tables exist,
-- and runs a rendered job with an explicit, allow-listed environment.
--
-- Secrets never reach spark-submit's argv, its environment, a spark.* conf (those become
-- JVM system properties) or the job file: the JDBC settings (and a Spark Connect URL,
-- which may carry a token) are written to a 0600 file in a private 0700 directory whose
-- path is the only thing the job gets (SPARKGEN_JDBC_FILE). The job's main reads and
-- deletes it before the SparkSession exists and before the body runs.
local proc = require "sparkgen.proc"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

-- The pyspark `sparkgen spark install` (and `make spark`) pins.
M.PYSPARK_VERSION = "4.3.0"

-- pgjdbc reaches a Unix-domain socket only through junixsocket's socket factory.
M.JUNIXSOCKET = "com.kohlschutter.junixsocket:junixsocket-core:2.10.1"
M.SOCKET_FACTORY = "org.newsclub.net.unix.AFUNIXSocketFactory$FactoryArg"

M.MISSING = "spark-submit not found: run `sparkgen spark install` (or `make spark` in the checkout), "
  .. "set SPARK_HOME, put spark-submit on PATH, or set spark.submit in the config"

--- The variables spark-submit and the job may see, taken from sparkgen's environment
--- when set; everything else (API keys, PGPASSWORD, DATABASE_URL, ...) stays behind.
--- `spark.pass_env` in the config adds names (for example AWS_PROFILE).
M.PASS_ENV = {
  "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES",
  "TMPDIR", "TERM", "JAVA_HOME", "SPARK_HOME", "SPARK_CONF_DIR", "SPARK_LOCAL_IP",
  "SPARK_LOCAL_HOSTNAME", "SPARK_LOCAL_DIRS", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON",
  "HADOOP_CONF_DIR", "HADOOP_HOME", "HADOOP_USER_NAME", "YARN_CONF_DIR", "KUBECONFIG",
}

local function executable(path)
  return path and path ~= "" and util.file_exists(path)
end

--- Where `sparkgen spark install` puts its virtual environment:
--- $XDG_DATA_HOME/sparkgen/venv (default ~/.local/share/sparkgen/venv).
function M.venv_dir()
  local data = os.getenv("XDG_DATA_HOME")
  if not data or data == "" then data = (os.getenv("HOME") or ".") .. "/.local/share" end
  return data .. "/sparkgen/venv"
end

--- The spark-submit to use: path, or nil, one-line message saying what to install/set.
--- Order: cfg.spark.submit, $SPARK_HOME/bin, PATH, ./.venv/bin (`make spark` in a
--- checkout), then the venv of `sparkgen spark install`.
function M.find_submit(cfg)
  local spark = cfg and cfg.spark or {}
  if spark.submit then
    if executable(spark.submit) then return spark.submit end
    return nil, ("spark.submit is set to %s, which does not exist"):format(spark.submit)
  end
  local home = os.getenv("SPARK_HOME")
  if home and home ~= "" and executable(home .. "/bin/spark-submit") then
    return home .. "/bin/spark-submit"
  end
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    if executable(dir .. "/spark-submit") then return dir .. "/spark-submit" end
  end
  if executable(".venv/bin/spark-submit") then return sys.realpath(".venv/bin/spark-submit") end
  local venv = M.venv_dir() .. "/bin/spark-submit"
  if executable(venv) then return venv end
  return nil, M.MISSING
end

--- The python that has pyspark: spark.python, else the one next to spark-submit (a
--- venv), else python3 from PATH.
function M.python(cfg, submit)
  if cfg.spark and cfg.spark.python then return cfg.spark.python end
  local dir = submit and util.dirname(submit)
  if dir and util.file_exists(dir .. "/python") then return dir .. "/python" end
  return "python3"
end

--- The connection a libpq string names (URI or key=value; nil means the PG* variables
--- only), resolved by libpq itself — the same rules as psql and the schema layer —
--- as {host=, port=, dbname=, user=, password=, sslmode=}; or nil, message.
function M.parse_conninfo(conninfo)
  local c, err = require("sparkgen.pg").resolve((conninfo and conninfo ~= "") and conninfo or nil)
  if not c then return nil, util.redact(err) end
  c.host = c.host:match("^[^,]*") -- several hosts: the first
  c.port = c.port:match("^[^,]*")
  return c
end

-- The first line of a libpq message, without a password.
local function pg_message(err)
  return (util.redact(tostring(err)):gsub("\n.*", ""):gsub("%s+$", ""))
end

--- Connect once with what the job will use and check every table it reads exists.
--- tables: list of {schema=, name=}. Returns libpq's credentials (what it really used:
--- service files and ~/.pgpass included), or nil, one-line message. This is what makes
--- a down database fail in milliseconds instead of after Spark's start-up.
function M.preflight(cfg, tables)
  local pg = require "sparkgen.pg"
  local db = (cfg.db and cfg.db ~= "") and cfg.db or nil
  local conn, err = pg.connect(db, {connect_timeout_s = cfg.connect_timeout_s,
                                    statement_timeout_ms = cfg.statement_timeout_ms})
  if not conn then return nil, "the database is unreachable: " .. pg_message(err) end
  local missing = {}
  for _, t in ipairs(tables or {}) do
    local st, serr = conn:stats(t.schema, t.name)
    if not st then
      if not tostring(serr):match("^no table ") then
        conn:close()
        return nil, ("cannot check table %s.%s: %s"):format(t.schema, t.name, pg_message(serr))
      end
      missing[#missing + 1] = t.schema .. "." .. t.name
    end
  end
  local creds = conn:credentials()
  conn:close()
  if #missing > 0 then
    return nil, ("the database has no table%s %s (the schema snapshot is out of date? try --refresh)"):format(
      #missing == 1 and "" or "s", table.concat(missing, ", "))
  end
  return creds
end

--- JDBC settings for the connection the schema layer uses (cfg.db, else PG*):
--- {url=, user=, password=|nil, properties = {k = v}, socket = bool}, or nil, message.
--- opts.credentials: what libpq used (M.preflight), which wins over the string.
--- A host starting with "/" is a socket directory: pgjdbc then goes through
--- junixsocket (the URL's host is ignored) and callers add M.JUNIXSOCKET to packages.
function M.jdbc(cfg, opts)
  local c, err = M.parse_conninfo(cfg and cfg.db or nil)
  if not c then return nil, err end
  if opts and opts.credentials then c = opts.credentials end
  if not c.dbname or c.dbname == "" then
    return nil, "no database to read: set --db, DATABASE_URL or PGDATABASE"
  end
  local out = {user = c.user, password = c.password, properties = {}, socket = false}
  local host, port = c.host, c.port or "5432"
  if host and host:sub(1, 1) == "/" then
    out.socket = true
    out.url = "jdbc:postgresql://localhost/" .. c.dbname
    out.properties.socketFactory = M.SOCKET_FACTORY
    out.properties.socketFactoryArg = ("%s/.s.PGSQL.%s"):format(host, port)
  else
    host = (host and host ~= "") and host or "localhost"
    if host:find(":", 1, true) then host = "[" .. host .. "]" end
    out.url = ("jdbc:postgresql://%s:%s/%s"):format(host, port, c.dbname)
  end
  -- libpq's default (prefer) is pgjdbc's too; only a chosen mode needs saying
  if c.sslmode and c.sslmode ~= "" and c.sslmode ~= "prefer" then out.properties.sslmode = c.sslmode end
  return out
end

--- Write the hand-over file into the private directory dir (made with sys.mkdtemp):
--- {"jdbc": {url, user, password, properties}, "remote": url|null, "one_shot": true},
--- mode 0600. Returns its path, or nil, message.
function M.write_handoff(dir, jdbc, remote)
  local path = dir .. "/credentials.json"
  local body = util.json_encode({
    jdbc = {url = jdbc.url, user = jdbc.user, password = jdbc.password,
            properties = next(jdbc.properties or {}) and jdbc.properties or util.json_null},
    remote = remote or util.json_null, one_shot = true,
  })
  local ok, err = sys.write_private(path, body)
  if not ok then return nil, "cannot hand over the credentials: " .. tostring(err) end
  return path
end

--- The whole environment of spark-submit (or of the Connect client): the allow-listed
--- variables sparkgen has, plus TZ=UTC, the venv's bin/ on PATH and its python for
--- PySpark, SPARK_LOCAL_IP for local masters, and opts.handoff as SPARKGEN_JDBC_FILE.
--- Nothing secret: names in spark.pass_env are the user's explicit choice.
function M.environment(cfg, submit, opts)
  opts = opts or {}
  local spark = cfg.spark or {}
  local env = {}
  for _, list in ipairs{M.PASS_ENV, spark.pass_env or {}} do
    for _, name in ipairs(list) do
      local v = os.getenv(name)
      if v then env[name] = v end
    end
  end
  env.TZ = "UTC"
  local master = opts.master or spark.master or "local[*]"
  if master:match("^local") and not env.SPARK_LOCAL_IP then env.SPARK_LOCAL_IP = "127.0.0.1" end
  -- spark-submit from a virtualenv only finds its SPARK_HOME with that venv's bin/ on PATH,
  -- and the job must run with the venv's python (the one that has pyspark).
  local dir = submit and util.dirname(submit)
  local venv_python = dir and util.file_exists(dir .. "/python") and (dir .. "/python")
  if venv_python and not (":" .. (env.PATH or "") .. ":"):find(":" .. dir .. ":", 1, true) then
    env.PATH = dir .. ":" .. (env.PATH or "/usr/bin:/bin")
  end
  local python = spark.python or venv_python
  if python and not env.PYSPARK_PYTHON then env.PYSPARK_PYTHON = python end
  env.SPARKGEN_JDBC_FILE = opts.handoff
  return env
end

--- The spark-submit argv (no secrets): {submit, --master, ..., job, job_args...}.
--- opts: {master = M|nil, socket = bool, verbose = bool}.
function M.argv(cfg, submit, job_path, job_args, opts)
  opts = opts or {}
  local spark = cfg.spark or {}
  local argv = {submit, "--master", opts.master or spark.master or "local[*]"}
  local packages = {}
  if spark.jar then
    argv[#argv + 1] = "--jars"
    argv[#argv + 1] = spark.jar
  elseif spark.packages then
    packages[#packages + 1] = spark.packages
  end
  if opts.socket then packages[#packages + 1] = M.JUNIXSOCKET end
  if #packages > 0 then
    argv[#argv + 1] = "--packages"
    argv[#argv + 1] = table.concat(packages, ",")
  end
  -- Spark's own log at WARN unless asked for (spark.log.level applies once the
  -- SparkContext starts; M.quiet_filter drops what comes before).
  local conf = {["spark.sql.session.timeZone"] = "UTC", ["spark.log.level"] = opts.verbose and "INFO" or "WARN"}
  for k, v in pairs(spark.conf or {}) do conf[k] = tostring(v) end
  for _, k in ipairs{"spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"} do
    -- Both JVMs in UTC, so timestamps compare exactly with the database's.
    conf[k] = conf[k] and ("-Duser.timezone=UTC " .. conf[k]) or "-Duser.timezone=UTC"
  end
  for _, k in ipairs(util.sorted_keys(conf)) do
    argv[#argv + 1] = "--conf"
    argv[#argv + 1] = k .. "=" .. conf[k]
  end
  argv[#argv + 1] = job_path
  for _, a in ipairs(job_args or {}) do argv[#argv + 1] = a end
  return argv
end

--- nil, or the one-line reason the spark section cannot work: spark.pass_env must list
--- variable names, and the job's driver must run on this machine (the hand-over file is
--- local).
function M.check_config(cfg)
  for i, name in ipairs(cfg.spark and cfg.spark.pass_env or {}) do
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      return ("config key 'spark.pass_env' item %d must be an environment variable name, got %s"):format(
        i, type(name) == "string" and ("'" .. name .. "'") or type(name))
    end
  end
  local mode = cfg.spark and cfg.spark.conf and cfg.spark.conf["spark.submit.deployMode"]
  if mode and tostring(mode) ~= "client" then
    return ("spark.submit.deployMode = %s is not supported: sparkgen hands the credentials to the "
      .. "driver on this machine, so the driver runs here (client mode) and only executors run on "
      .. "the cluster"):format(tostring(mode))
  end
end

--- doctor: does the configured Spark Connect endpoint answer? Starts the client with
--- the venv's python (the URL, which may carry a token, goes through stdin, not argv)
--- and asks the server for its version. Returns ok, one-line detail.
function M.check_remote(cfg, python, timeout_s)
  local url = cfg.spark.remote
  local shown = util.redact((url:gsub("token=[^;]*", "token=***")))
  local script = "import sys\nfrom pyspark.sql import SparkSession\n"
    .. "s = SparkSession.builder.remote(sys.stdin.readline().strip()).getOrCreate()\n"
    .. "print(s.version)\n"
  local p, err = proc.spawn{argv = {python, "-c", script}, env = M.environment(cfg, nil, {master = "remote"}),
                            stdin = "pipe", stdout = "pipe", stderr = "pipe"}
  if not p then return false, "cannot start " .. python .. ": " .. tostring(err) end
  local out, errtext = p:communicate(url .. "\n", timeout_s or 30)
  local how, code = p:wait(1)
  p:close()
  local version = out and out:match("^(%d[%w%.%-]*)")
  if how == "exit" and code == 0 and version then return true, ("%s answers (Spark %s)"):format(shown, version) end
  local last
  for line in ((errtext or "") .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("%S") then last = line end
  end
  return false, ("%s does not answer: %s"):format(shown, out == nil and "no answer within the time limit"
    or (last or ("the client exited with " .. tostring(code))):sub(1, 200))
end

-- Spark's start-up chatter: Ivy's dependency resolution for --packages, log4j lines
-- below WARN, and a few fixed notices. Returns a function line → keep?
function M.quiet_filter()
  local in_ivy = false
  local NOTICES = {"^WARNING: Using incubator modules", "^Using Spark's default log4j profile",
                   "^Setting Spark log level to", "^Setting default log level to",
                   "^To adjust logging level use", "NativeCodeLoader: Unable to load native%-hadoop"}
  return function(line)
    if line:match("^:: loading settings") or line:match("^Ivy Default Cache set to") then in_ivy = true end
    if in_ivy then
      -- a failed resolution is exactly what the user must see
      if line:match("UNRESOLVED") or line:match("unresolved") or line:match("not found")
         or line:match("FAILED") or line:match("^Exception") or line:match("ERROR") then return true end
      if line:match("artifacts copied") then in_ivy = false end
      return false
    end
    for _, pat in ipairs(NOTICES) do if line:match(pat) then return false end end
    local level = line:match("^%d%d/%d%d/%d%d %d%d:%d%d:%d%d (%u+) ")
    if level == "INFO" or level == "DEBUG" or level == "TRACE" then return false end
    return true
  end
end

-- One line on a terminal, redrawn in place.
local function progress_line(err)
  local shown = false
  return {
    show = function(text)
      if text and text ~= "" then
        err:write("\r\27[K[spark] ", text)
        shown = true
      end
    end,
    clear = function()
      if shown then err:write("\r\27[K") shown = false end
    end,
  }
end

--- Run a rendered job: spark-submit (or, with a Spark Connect remote, the venv's python
--- directly: the client needs no local JVM). The child's stdout and stderr are read
--- here: Spark's chatter is dropped unless opts.verbose, everything else goes to stderr,
--- and on a terminal a progress line is kept from the job's status file.
--- opts: {dir = private dir (sys.mkdtemp), jdbc =, master =, remote =, verbose =,
---        progress = path|nil, err = stream (default io.stderr)}.
--- Returns the exit status (integer), or nil, message.
function M.run(cfg, job_path, job_args, opts)
  local err_out = opts.err or io.stderr
  local submit, serr = M.find_submit(cfg)
  if not submit then return nil, serr end
  local derr = M.check_config(cfg)
  if derr and not (opts.remote and derr:match("deployMode")) then return nil, derr end
  local handoff, herr = M.write_handoff(opts.dir, opts.jdbc, opts.remote)
  if not handoff then return nil, herr end
  local env = M.environment(cfg, submit, {master = opts.master, handoff = handoff})
  local argv
  if opts.remote then
    argv = {M.python(cfg, submit), job_path}
    for _, a in ipairs(job_args or {}) do argv[#argv + 1] = a end
  else
    argv = M.argv(cfg, submit, job_path, job_args,
                  {master = opts.master, socket = opts.jdbc.socket, verbose = opts.verbose})
  end
  local p, perr = proc.spawn{argv = argv, env = env, stdin = "null", stdout = "pipe", stderr = "stdout"}
  if not p then
    os.remove(handoff)
    return nil, "cannot start " .. argv[1] .. ": " .. tostring(perr)
  end
  local keep = opts.verbose and function() return true end or M.quiet_filter()
  local progress = opts.progress and progress_line(err_out)
  while true do
    local line, why = p:read_line(0.25)
    if line then
      if keep(line) then
        if progress then progress.clear() end
        err_out:write(line, "\n")
      end
    elseif why == "eof" then
      break
    elseif progress then
      progress.show(util.read_file(opts.progress))
    end
  end
  if progress then progress.clear() end
  local how, code = p:wait()
  p:close()
  os.remove(handoff) -- the job deletes it first; this covers a job that never started
  if how == "signal" then return 128 + (code or 0) end
  return code or 1
end

return M

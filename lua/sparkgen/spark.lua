-- spark.lua — finds spark-submit, turns the libpq connection the schema layer uses into
-- the JDBC settings a job reads from its environment, and runs a rendered job.
-- Credentials travel only in the child's environment (sparkgen.sys.setenv), never in
-- argv, where any user of the machine could read them with ps.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

-- pgjdbc reaches a Unix-domain socket only through junixsocket's socket factory.
M.JUNIXSOCKET = "com.kohlschutter.junixsocket:junixsocket-core:2.10.1"
M.SOCKET_FACTORY = "org.newsclub.net.unix.AFUNIXSocketFactory$FactoryArg"

M.MISSING = "spark-submit not found: run `make spark` (pyspark in ./.venv), set SPARK_HOME, "
  .. "put spark-submit on PATH, or set spark.submit in the config"

local function executable(path)
  return path and path ~= "" and util.file_exists(path)
end

--- The spark-submit to use: path, or nil, one-line message saying what to install/set.
--- Order: cfg.spark.submit, $SPARK_HOME/bin, PATH, ./.venv/bin.
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
  -- `make spark` puts pyspark's spark-submit in ./.venv of the checkout.
  if executable(".venv/bin/spark-submit") then return sys.realpath(".venv/bin/spark-submit") end
  return nil, M.MISSING
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

--- JDBC settings for the connection the schema layer uses (cfg.db, else PG*):
--- {url=, user=, password=|nil, properties = {k = v}, socket = bool}, or nil, message.
--- opts.connect: connect once and take what libpq used (service files, ~/.pgpass).
--- A host starting with "/" is a socket directory: pgjdbc then goes through
--- junixsocket (the URL's host is ignored) and callers add M.JUNIXSOCKET to packages.
function M.jdbc(cfg, opts)
  local c, err = M.parse_conninfo(cfg and cfg.db or nil)
  if not c then return nil, err end
  if opts and opts.connect then
    -- What libpq really used (service files, ~/.pgpass included) wins over what the
    -- string says; when the database is unreachable the job will say so itself.
    local pg = require "sparkgen.pg"
    local conn = pg.connect((cfg.db and cfg.db ~= "") and cfg.db or nil, {connect_timeout_s = cfg.connect_timeout_s})
    if conn then
      c = conn:credentials()
      conn:close()
    end
  end
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

-- The properties as the job reads them: k=v;k=v, sorted for stable output.
local function properties_string(props)
  local parts = {}
  for _, k in ipairs(util.sorted_keys(props or {})) do parts[#parts + 1] = k .. "=" .. props[k] end
  return table.concat(parts, ";")
end

--- The environment a job needs: name → value (false = unset). Secrets only here.
function M.environment(cfg, jdbc, submit)
  local env = {
    SPARKGEN_JDBC_URL = jdbc and jdbc.url or false,
    SPARKGEN_JDBC_USER = jdbc and jdbc.user or false,
    SPARKGEN_JDBC_PASSWORD = jdbc and jdbc.password or false,
    SPARKGEN_JDBC_PROPERTIES = jdbc and properties_string(jdbc.properties) or false,
    TZ = "UTC",
  }
  local spark = cfg.spark or {}
  local master = spark.master or "local[*]"
  if master:match("^local") and not os.getenv("SPARK_LOCAL_IP") then env.SPARK_LOCAL_IP = "127.0.0.1" end
  -- spark-submit from a virtualenv only finds its SPARK_HOME with that venv's bin/ on PATH,
  -- and the job must run with the venv's python (the one that has pyspark).
  local dir = submit and util.dirname(submit)
  local venv_python = dir and util.file_exists(dir .. "/python") and (dir .. "/python")
  if venv_python then
    local path = os.getenv("PATH") or ""
    if not (":" .. path .. ":"):find(":" .. dir .. ":", 1, true) then env.PATH = dir .. ":" .. path end
  end
  local python = spark.python or venv_python
  if python and not os.getenv("PYSPARK_PYTHON") then env.PYSPARK_PYTHON = python end
  return env
end

--- The spark-submit argv (no secrets): {submit, --master, ..., job, job_args...}.
--- opts: {master = M|nil, socket = bool}.
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
  local conf = {["spark.sql.session.timeZone"] = "UTC"}
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

--- Run a rendered job file with spark-submit, output streaming to the terminal.
--- run(cfg, job_path, job_args, {master=}) → exit status (integer), or nil, message.
--- The environment is restored afterwards so credentials do not linger in-process.
function M.run(cfg, job_path, job_args, opts)
  opts = opts or {}
  local submit, err = M.find_submit(cfg)
  if not submit then return nil, err end
  local jdbc, jerr = M.jdbc(cfg, {connect = true})
  if not jdbc then return nil, jerr end
  local env = M.environment(cfg, jdbc, submit)
  local argv = M.argv(cfg, submit, job_path, job_args, {master = opts.master, socket = jdbc.socket})
  local saved = {}
  for k, v in pairs(env) do
    saved[k] = os.getenv(k) or false
    sys.setenv(k, v or nil)
  end
  local ok, how, code = os.execute(util.shell_join(argv))
  for k, v in pairs(saved) do sys.setenv(k, v or nil) end
  if how == "signal" then return 128 + (code or 0) end
  if ok then return 0 end
  return code or 1
end

return M

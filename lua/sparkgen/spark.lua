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

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- libpq key=value string → table (values may be single-quoted with \' and \\ escapes).
local function parse_keyvalue(s)
  local out, i = {}, 1
  while true do
    local k, ni = s:match("^%s*([%w_]+)%s*=%s*()", i)
    if not k then break end
    i = ni
    local v
    if s:sub(i, i) == "'" then
      local buf, j = {}, i + 1
      while j <= #s do
        local c = s:sub(j, j)
        if c == "\\" then buf[#buf + 1] = s:sub(j + 1, j + 1); j = j + 2
        elseif c == "'" then j = j + 1; break
        else buf[#buf + 1] = c; j = j + 1 end
      end
      v, i = table.concat(buf), j
    else
      v, i = s:match("^(%S*)()", i)
    end
    out[k] = v
  end
  return out
end

-- postgresql://user:pass@host:port/db?k=v → table with libpq's key names.
local function parse_uri(s)
  local rest = s:match("^postgres[q]?[l]?://(.*)$")
  if not rest then return nil end
  local out = {}
  local query
  rest, query = rest:match("^([^?]*)%??(.*)$")
  local auth, hostpart = rest:match("^(.*)@([^@]*)$")
  if not auth then hostpart = rest end
  if auth then
    local u, p = auth:match("^([^:]*):(.*)$")
    out.user = percent_decode(u or auth)
    if p then out.password = percent_decode(p) end
  end
  local hp, db = hostpart:match("^([^/]*)/?(.*)$")
  if db and db ~= "" then out.dbname = percent_decode(db) end
  if hp and hp ~= "" then
    local h, port = hp:match("^%[(.-)%]:?(%d*)$")
    if not h then h, port = hp:match("^([^:]*):?(%d*)$") end
    if h and h ~= "" then out.host = percent_decode(h) end
    if port and port ~= "" then out.port = port end
  end
  for pair in (query or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]+)=(.*)$")
    if k then out[percent_decode(k)] = percent_decode(v) end
  end
  return out
end

--- Parse a libpq connection string (URI or key=value; nil means the PG* variables only)
--- into {host=, port=, dbname=, user=, password=, sslmode=}, filling gaps from the PG*
--- environment variables as libpq does.
function M.parse_conninfo(conninfo)
  local c = {}
  if conninfo and conninfo ~= "" then
    c = parse_uri(conninfo) or parse_keyvalue(conninfo)
  end
  local function env(k, name) if not c[k] or c[k] == "" then c[k] = os.getenv(name) end end
  env("host", "PGHOST"); env("port", "PGPORT"); env("dbname", "PGDATABASE")
  env("user", "PGUSER"); env("password", "PGPASSWORD"); env("sslmode", "PGSSLMODE")
  if c.host then c.host = c.host:match("^[^,]*") end -- several hosts: the first
  if c.port then c.port = c.port:match("^[^,]*") end
  if not c.user or c.user == "" then c.user = os.getenv("USER") end
  if not c.dbname or c.dbname == "" then c.dbname = c.user end
  return c
end

--- JDBC settings for the connection the schema layer uses (cfg.db, else PG*):
--- {url=, user=, password=|nil, properties = {k = v}, socket = bool}, or nil, message.
--- A host starting with "/" is a socket directory: pgjdbc then goes through
--- junixsocket (the URL's host is ignored) and callers add M.JUNIXSOCKET to packages.
function M.jdbc(cfg)
  local c = M.parse_conninfo(cfg and cfg.db or nil)
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
  if c.sslmode and c.sslmode ~= "" then out.properties.sslmode = c.sslmode end
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
  local jdbc, jerr = M.jdbc(cfg)
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

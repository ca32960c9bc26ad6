-- commands/doctor.lua — `sparkgen doctor`: what a new user is missing to generate and
-- run jobs, one line per item with a fix hint. Secrets are only ever reported as
-- present or absent. Exit status 1 when something needed to run jobs is missing.
local util = require "sparkgen.util"
local sys = require "sparkgen.sys"

local M = {}

M.summary = "Check the tools, database and settings sparkgen needs, with fix hints."

function M.setup(cmd, cli)
  cli.add_source_options(cmd)
end

-- First non-empty line of a shell command's combined output, and whether it succeeded.
local function capture(cmd)
  local p = io.popen(cmd .. " 2>&1")
  if not p then return nil end
  local out = p:read("a") or ""
  local ok = p:close()
  local line = out:match("([^\n]*%S[^\n]*)")
  return ok and line or nil, line
end

local function dir_size(path)
  local total, files = 0, 0
  local function walk(p)
    local st = sys.stat(p)
    if not st then return end
    if st.type == "dir" then
      for _, name in ipairs(sys.listdir(p) or {}) do walk(p .. "/" .. name) end
    elseif st.type == "file" then
      total, files = total + (st.size or 0), files + 1
    end
  end
  walk(path)
  return total, files
end

local function human(bytes)
  local units = {"B", "KiB", "MiB", "GiB"}
  local i = 1
  while bytes >= 1024 and i < #units do bytes, i = bytes / 1024, i + 1 end
  return i == 1 and ("%d %s"):format(bytes, units[i]) or ("%.1f %s"):format(bytes, units[i])
end

-- The Ivy caches spark-submit --packages uses (the name changed across Spark versions).
local function ivy_jar(package)
  local group, artifact, version = package:match("^([^:]+):([^:]+):([^:,]+)")
  if not group then return nil end
  local home = os.getenv("HOME") or ""
  for _, dir in ipairs{home .. "/.ivy2.5.2/jars", home .. "/.ivy2/jars"} do
    local jar = ("%s/%s_%s-%s.jar"):format(dir, group, artifact, version)
    if util.file_exists(jar) then return jar end
  end
  return nil
end

--- The checks as a list of {name=, ok=, detail=, fix=, optional=}.
function M.checks(cfg)
  local spark = require "sparkgen.spark"
  local out = {}
  local function add(name, ok, detail, fix, optional)
    out[#out + 1] = {name = name, ok = ok and true or false, detail = detail, fix = fix, optional = optional}
  end

  local py = capture("python3 --version")
  add("python3", py, py or "not found", "install Python 3.10+ (apt-get install python3 python3-venv)")

  local submit = spark.find_submit(cfg)
  local python = spark.python(cfg, submit)
  local pyspark = capture(util.shell_quote(python) .. " -c 'import pyspark; print(pyspark.__version__)'")
  add("pyspark", pyspark, pyspark and ("%s (%s)"):format(pyspark, python) or "not importable by " .. python,
      "run `sparkgen spark install` (a venv with pyspark under " .. spark.venv_dir() .. ")")

  local java_home = os.getenv("JAVA_HOME")
  local java = (java_home and java_home ~= "" and java_home .. "/bin/java") or "java"
  local jv = capture(util.shell_quote(java) .. " -version")
  add("java", jv, jv or "not found", "install Java 17+ (apt-get install openjdk-17-jre-headless) or set JAVA_HOME")

  local _, serr = spark.find_submit(cfg)
  add("spark-submit", submit, submit or serr, "run `sparkgen spark install`, set SPARK_HOME, or set spark.submit in the config")
  if cfg.spark.remote then
    local ok, detail = spark.check_remote(cfg, python)
    add("spark connect", ok, detail, "start the server (sbin/start-connect-server.sh) or fix spark.remote / SPARK_REMOTE")
  end

  if cfg.spark.jar then
    local present = util.file_exists(cfg.spark.jar)
    add("jdbc driver", present, "jar " .. cfg.spark.jar .. (present and "" or " (missing)"),
        "install libpostgresql-jdbc-java or point spark.jar at a PostgreSQL JDBC jar")
  elseif cfg.spark.packages then
    local jar = ivy_jar(cfg.spark.packages)
    add("jdbc driver", true, "--packages " .. cfg.spark.packages ..
        (jar and (" (cached: " .. jar .. ")") or " (downloaded from Maven Central on first run)"))
  else
    add("jdbc driver", false, "neither spark.packages nor spark.jar is set",
        "set spark.packages = \"org.postgresql:postgresql:42.7.14\" or spark.jar in the config")
  end

  if cfg.schema and not cfg.db then
    add("database", true, "offline: schema snapshot " .. tostring(cfg.schema), nil, true)
  else
    local ok, pg = pcall(require, "sparkgen.pg")
    if not ok or type(pg.connect) ~= "function" then
      add("database", false, "this build has no PostgreSQL support", "rebuild sparkgen with libpq", true)
    else
      local conn, err = pg.connect(cfg.db or "", {connect_timeout_s = cfg.connect_timeout_s,
                                                  statement_timeout_ms = cfg.statement_timeout_ms})
      if not conn then
        add("database", false, "unreachable: " .. util.redact(tostring(err)):gsub("\n.*", ""),
            "set --db, DATABASE_URL or the PG* variables (PGHOST, PGDATABASE, PGUSER, PGPASSWORD)", true)
      else
        local iok, id = pcall(conn.identity, conn)
        -- Proven, not assumed: a write is tried (and rolled back) and must be refused.
        local ro = false
        if type(conn.check_read_only) == "function" then
          local rok, refused = pcall(conn.check_read_only, conn)
          ro = rok and refused == true
        end
        conn:close()
        local detail = "reachable"
        if iok and type(id) == "table" then
          local who = {}
          for _, k in ipairs{"user", "dbname", "host", "port"} do
            if id[k] then who[#who + 1] = ("%s=%s"):format(k, tostring(id[k])) end
          end
          if #who > 0 then detail = detail .. " (" .. table.concat(who, " ") .. ")" end
        end
        detail = detail .. (ro and ", read-only confirmed" or ", read-only NOT confirmed")
        add("database", ro, detail, "check that the server honours default_transaction_read_only", true)
      end
    end
  end

  local config = require "sparkgen.config"
  local provider = cfg.provider or "anthropic"
  if provider == "template" then
    add("api key", true, "not needed (provider template)", nil, true)
  else
    local key = config.api_key(provider, cfg)
    local present = key ~= nil and key ~= ""
    local var = provider == "openai" and (cfg.openai.api_key_env or "OPENAI_API_KEY") or "ANTHROPIC_API_KEY"
    add("api key", present, present and (var .. " is set") or (var .. " is not set (types with templates still work)"),
        "export " .. var .. "=... (never put it in a config file)", true)
    if present and provider == "anthropic" then
      -- A free call proves the key works (GET /v1/models), then the model exists.
      local c = require("sparkgen.llm.anthropic").check_key(cfg, key)
      add("model api", c.ok and c.model_ok ~= false, c.detail,
          not c.ok and (c.kind == "auth" and "the key was rejected: set ANTHROPIC_API_KEY to a valid key"
                        or "check ANTHROPIC_BASE_URL / anthropic.base_url and the network")
          or "set anthropic.model (or SPARKGEN_MODEL) to a model the API lists", true)
    end
  end

  local cdir = cfg.cache.dir
  if util.dir_exists(cdir) then
    local bytes, files = dir_size(cdir)
    add("cache", true, ("%s: %s in %d files (limit %s)"):format(cdir, human(bytes), files, human(cfg.cache.max_bytes)))
  else
    add("cache", true, cdir .. ": empty (created on first use)")
  end
  return out
end

function M.run(_, ctx)
  local out = ctx.stdout
  local missing = 0
  for _, c in ipairs(M.checks(ctx.config)) do
    out:write(("%-8s %-13s %s\n"):format(c.ok and "ok" or (c.optional and "warn" or "MISSING"), c.name, c.detail))
    if not c.ok and c.fix then out:write(("%-8s %-13s fix: %s\n"):format("", "", c.fix)) end
    if not c.ok and not c.optional then missing = missing + 1 end
  end
  if missing > 0 then
    return nil, ("%d thing%s needed to run jobs %s missing (see the fix lines above)"):format(
      missing, missing == 1 and "" or "s", missing == 1 and "is" or "are")
  end
  return 0
end

return M

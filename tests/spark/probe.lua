-- tests/spark/probe.lua CONFIG CONNINFO SECRET... — issue 11's second line of defence on
-- real Spark. Renders a job around tests/spark/probe_body.py WITHOUT the static checks
-- and runs it the way `sparkgen exec` does (spark.preflight, spark.jdbc, spark.run: the
-- allow-listed environment and the 0600 hand-over file), with the secrets (the database
-- password the connection needs, a fake API key) in sparkgen's own environment. Prints
-- TAP: no secret in anything the body could read, and the probe really looked.
local config = require "sparkgen.config"
local job = require "sparkgen.job"
local spark = require "sparkgen.spark"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local cfg_path, conninfo = arg[1], arg[2]
local secrets = {table.unpack(arg, 3)}
local n = 0
local function tap(ok, text)
  n = n + 1
  print(("%s %d - %s"):format(ok and "ok" or "not ok", n, text))
end

local cfg = assert(config.load{files = {cfg_path}, flags = {db = conninfo}})
local here = os.getenv("SPARKGEN_HOME") .. "/tests/spark/"
local result = {code = assert(util.read_file(here .. "probe_body.py")), tables_used = {"orders"},
                validation_checks = {}, request = {source = "orders"}, provider = "test"}
local dir = assert(sys.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/sparkgen-probe"))
local job_path = dir .. "/job.py"
assert(util.write_file(job_path, assert(job.render(result, {cfg = cfg}))))
local creds = assert(spark.preflight(cfg, {{schema = "public", name = "orders"}}))
local jdbc = assert(spark.jdbc(cfg, {credentials = creds}))
local errors = {}
local status = spark.run(cfg, job_path, {"--json", "--rows", dir .. "/rows", "--report", dir .. "/report"},
  {dir = dir, jdbc = jdbc, err = {write = function(_, ...) errors[#errors + 1] = table.concat({...}) end}})
local rows_text = util.read_file(dir .. "/rows") or ""
local report = util.read_file(dir .. "/report") or ""
local leftover = sys.listdir(dir)
util.remove_tree(dir)

tap(status == 0, ("the probe job ran (status %s%s)"):format(tostring(status),
  status == 0 and "" or ": " .. report:sub(1, 300)))
local rows = {}
for line in rows_text:gmatch("[^\n]+") do
  local r = util.json_decode(line)
  if r then rows[r.where] = r.text end
end
local all = rows_text .. table.concat(errors) .. report
for i, s in ipairs(secrets) do
  local at = all:find(s, 1, true)
  tap(not at, ("secret %d of %d appears nowhere in what the body could read%s"):format(i, #secrets,
    at and (" (found near: " .. all:sub(math.max(1, at - 80), at - 1) .. ")") or ""))
end
-- The probe must have looked where the secrets used to be, or the test proves nothing.
local function has(where, pattern)
  return rows[where] ~= nil and rows[where]:find(pattern) ~= nil
end
tap(tonumber(rows["orders read over JDBC"] or "") and tonumber(rows["orders read over JDBC"]) > 0,
  "the body read orders over JDBC with the handed-over password")
tap(has("getenv(PATH)", "/") and has("sql java_method getenv()", "PATH="),
  "the body read the JVM's environment (getenv, java_method)")
tap(has("getProperty(java.version)", "%d") and has("sql reflect getProperties()", "java%.version"),
  "the body read the JVM's system properties (getProperty, reflect)")
tap(has("/proc/parent/cmdline", "SparkSubmit") and has("/proc/self/environ", "SPARKGEN_JDBC_FILE="),
  "the body read /proc/self/environ and its parent JVM's cmdline")
tap(rows["sql ${env:PATH}"] == "${env:PATH}" and rows["sql ${spark.app.name}"] == "${spark.app.name}",
  ("Spark substitutes no ${...} in SQL text (got %s, %s)"):format(tostring(rows["sql ${env:PATH}"]),
    tostring(rows["sql ${spark.app.name}"])))
tap(has("hand-over file (jvm)", "^gone"), "the hand-over file was gone before the body ran")
tap(rows["os.environ"] ~= nil and not rows["os.environ"]:find("SPARKGEN_JDBC", 1, true),
  "no SPARKGEN_JDBC_* variable is left in os.environ")
local kept = false
for _, name in ipairs(leftover or {}) do kept = kept or name == "credentials.json" end
tap(leftover ~= nil and not kept, "nothing of the hand-over is left once the job ended")
print("1.." .. n)

-- End-to-end: `sparkgen exec` with a stand-in spark-submit on PATH that records its argv,
-- its whole environment and the credentials hand-over, so what reaches Spark is pinned
-- without starting a JVM. The database is a throwaway PostgreSQL (tests/lib/pg.sh): exec
-- checks it before Spark starts. The request uses a small type defined here (a user root
-- on SPARKGEN_PATH), so the spec does not depend on the built-in types' details.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local HOME = cli.HOME

local root = cli.tempdir()
local bindir = root .. "/bin"
local record = root .. "/record"
os.execute("mkdir -p " .. cli.quote(bindir) .. " " .. cli.quote(root .. "/types") .. " "
  .. cli.quote(root .. "/templates/types"))

cli.write(root .. "/types/exec_probe.lua", [[
return {
  name = "exec_probe",
  summary = "Orders per customer (exec spec)",
  tables = {"orders"},
  params = {as_of = {type = "date", doc = "reference date"}},
  complexity = "low",
  checks = {{rule = "non_empty"}},
  guidance = "Count orders per customer.",
  description = "Orders per customer.",
  template = "types/exec_probe.py",
}
]])
cli.write(root .. "/templates/types/exec_probe.py", [[
orders = read_table("orders")
result_df = orders.groupBy("customer_id").agg(F.count("*").alias("orders"))
]])

-- Records argv (one per line), the whole environment, the hand-over file and the modes
-- of it and its directory, and the job file; then deletes the hand-over like a job and
-- answers like one: a report file, rows in the --rows file, Spark-like chatter on both
-- streams, exit 3 when STANDIN_FAIL names a check.
cli.write(bindir .. "/spark-submit", [[
#!/bin/sh
d="$STANDIN_RECORD"
mkdir -p "$d"
: > "$d/argv"
report=""; rows=""; progress=""; prev=""
for a in "$@"; do
  printf '%s\n' "$a" >> "$d/argv"
  [ "$prev" = "--report" ] && report="$a"
  [ "$prev" = "--rows" ] && rows="$a"
  [ "$prev" = "--progress" ] && progress="$a"
  case "$a" in *.py) cp "$a" "$d/job.py" ;; esac
  prev="$a"
done
env | sort > "$d/env"
if [ -n "$SPARKGEN_JDBC_FILE" ]; then
  cp "$SPARKGEN_JDBC_FILE" "$d/handoff.json"
  stat -c %a "$SPARKGEN_JDBC_FILE" > "$d/handoff.mode"
  stat -c %a "$(dirname "$SPARKGEN_JDBC_FILE")" > "$d/dir.mode"
  rm -f "$SPARKGEN_JDBC_FILE"
fi
if [ -n "$progress" ]; then printf 'stage 1: 2/4 tasks done' > "$progress"; sleep 1; fi
echo ':: loading settings :: url = jar:file:/x/ivy-2.5.3.jar!/ivysettings.xml'
echo 'Ivy Default Cache set to: /root/.ivy2.5.2/cache'
printf '\tfound org.postgresql#postgresql;42.7.14 in central\n'
printf '\t0 artifacts copied, 4 already retrieved (0kB/18ms)\n'
echo '26/12/04 17:52:40 INFO SparkContext: Running Spark version 4.3.0' >&2
echo '26/12/04 17:52:41 WARN Standin: a warning the user should see' >&2
echo 'a line of the job itself'
if [ -n "$STANDIN_FAIL" ]; then
  printf '{"status":"failed_checks","failed_checks":["%s"],"error":null,"failures":[{"name":"%s","description":"The result has at least one row.","detail":"1 violating rows"}]}' "$STANDIN_FAIL" "$STANDIN_FAIL" > "$report"
  exit 3
fi
printf '{"status":"ok","failed_checks":[],"error":null,"output":%s}' "${STANDIN_OUTPUT:-null}" > "$report"
echo '{"customer_id": 7, "orders": 3}' > "$rows"
exit 0
]])
os.execute("chmod +x " .. cli.quote(bindir .. "/spark-submit"))
-- The stand-in's own controls must pass the allow-list (./sparkgen.lua of the cwd).
local PASS = '"STANDIN_RECORD", "STANDIN_FAIL", "STANDIN_OUTPUT"'
cli.write(root .. "/sparkgen.lua", "return {spark = {pass_env = {" .. PASS .. "}}}")

local available = os.getenv("TEST_TMP") and os.execute(HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")

describe("sparkgen exec with a stand-in spark-submit", function()
  if not available then
    pending("no PostgreSQL server binaries")
    return
  end
  local db = assert(cli.sh(("%s/tests/lib/pg.sh db shop %s/examples/shop/schema.sql"):format(HOME, HOME)))
  local empty = assert(cli.sh(HOME .. "/tests/lib/pg.sh db exec_empty"))
  assert(os.execute(HOME .. "/tests/lib/pg.sh role sparkgen_exec s3cret-pw-Zq9 >/dev/null"))
  assert(cli.sh(("psql %s -c 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO sparkgen_exec'"):format(cli.quote(db))))
  local sock, port = db:match("host=(%S+)"), db:match("port=(%d+)")

  -- The password reaches sparkgen only through PGPASSWORD; the key is a fake one.
  local BASE_ENV = {
    SPARKGEN_PATH = root, PATH = bindir .. ":/usr/bin:/bin", STANDIN_RECORD = record,
    SPARK_HOME = false, PGHOST = sock, PGPORT = port, PGDATABASE = "shop",
    PGUSER = "sparkgen_exec", PGPASSWORD = "s3cret-pw-Zq9", STANDIN_FAIL = false, STANDIN_OUTPUT = false,
    ANTHROPIC_API_KEY = "sk-ant-exec-spec-fake", DATABASE_URL = false, EXEC_SPEC_EXTRA = "visible",
  }

  local function exec(extra, env)
    local e = {}
    for k, v in pairs(BASE_ENV) do e[k] = v end
    for k, v in pairs(env or {}) do e[k] = v end
    local argv = {"exec", "orders", "exec_probe", "--schema", cli.SHOP, "--context", "as_of=2026-11-15"}
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    cli.rmdir(record)
    return cli.run(argv, {env = e, cwd = root})
  end

  local function lines(path)
    local out = {}
    for line in cli.slurp(path):gmatch("[^\n]+") do out[#out + 1] = line end
    return out
  end

  local function env_map()
    local out = {}
    for _, line in ipairs(lines(record .. "/env")) do
      local k, v = line:match("^([^=]+)=(.*)$")
      if k then out[k] = v end
    end
    return out
  end

  -- The value following `flag` in the recorded argv.
  local function after(argv, flag)
    for i, a in ipairs(argv) do if a == flag then return argv[i + 1] end end
  end

  teardown(function() cli.rmdir(root) end)

  it("passes the master from --master and the JDBC driver package", function()
    local r = exec({"--master", "local[3]"})
    assert.equal(0, r.status, r.stderr)
    local argv = lines(record .. "/argv")
    assert.equal("local[3]", after(argv, "--master"))
    assert.matches("^org.postgresql:postgresql:42.7.14,", after(argv, "--packages"))
  end)

  it("pins UTC for Spark SQL and both JVMs", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    local argv = table.concat(lines(record .. "/argv"), "\n")
    assert.matches("spark.sql.session.timeZone=UTC", argv, 1, true)
    assert.matches("spark.driver.extraJavaOptions=-Duser.timezone=UTC", argv, 1, true)
    assert.matches("spark.executor.extraJavaOptions=-Duser.timezone=UTC", argv, 1, true)
    assert.equal("UTC", env_map().TZ)
  end)

  it("never puts the password in argv, the job file or spark-submit's environment", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    assert.is_nil(cli.slurp(record .. "/argv"):find("s3cret-pw-Zq9", 1, true))
    assert.is_nil(cli.slurp(record .. "/job.py"):find("s3cret-pw-Zq9", 1, true))
    assert.is_nil(cli.slurp(record .. "/env"):find("s3cret-pw-Zq9", 1, true))
  end)

  it("gives spark-submit an allow-listed environment: no API key, PGPASSWORD or stray variables", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    local env = env_map()
    assert.is_nil(env.ANTHROPIC_API_KEY)
    assert.is_nil(env.PGPASSWORD)
    assert.is_nil(env.PGUSER)
    assert.is_nil(env.EXEC_SPEC_EXTRA)
    assert.truthy(env.PATH)
    assert.is_nil(cli.slurp(record .. "/env"):find("sk-ant-exec-spec-fake", 1, true))
  end)

  it("passes a variable named in spark.pass_env", function()
    cli.write(root .. "/pass.lua", "return {spark = {pass_env = {\"EXEC_SPEC_EXTRA\", " .. PASS .. "}}}")
    local r = exec({"--config", root .. "/pass.lua"})
    assert.equal(0, r.status, r.stderr)
    assert.equal("visible", env_map().EXEC_SPEC_EXTRA)
  end)

  it("hands the JDBC settings over in a 0600 file in a 0700 directory, named by SPARKGEN_JDBC_FILE", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    assert.equal("600", (cli.slurp(record .. "/handoff.mode"):gsub("%s+$", "")))
    assert.equal("700", (cli.slurp(record .. "/dir.mode"):gsub("%s+$", "")))
    local cjson = require "cjson"
    local h = cjson.decode(cli.slurp(record .. "/handoff.json"))
    assert.equal("jdbc:postgresql://localhost/shop", h.jdbc.url)
    assert.equal("sparkgen_exec", h.jdbc.user)
    assert.equal("s3cret-pw-Zq9", h.jdbc.password)
    assert.equal(("%s/.s.PGSQL.%s"):format(sock, port), h.jdbc.properties.socketFactoryArg)
    assert.is_true(h.one_shot)
    assert.is_nil(env_map().SPARKGEN_JDBC_PASSWORD)
  end)

  it("reaches a socket directory through junixsocket", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    assert.matches("com.kohlschutter.junixsocket:junixsocket-core:",
      after(lines(record .. "/argv"), "--packages"), 1, true)
  end)

  it("passes the output options to the job and prints its rows on stdout", function()
    local r = exec({"--json", "--limit", "5"})
    assert.equal(0, r.status, r.stderr)
    local argv = lines(record .. "/argv")
    assert.equal("5", after(argv, "--limit"))
    assert.truthy(table.concat(argv, "\n"):find("\n--json\n", 1, true))
    assert.equal('{"customer_id": 7, "orders": 3}\n', r.stdout)
  end)

  it("keeps Spark quiet: no Ivy resolution or INFO lines, warnings and the job's own lines stay", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    assert.equal("WARN", cli.slurp(record .. "/argv"):match("spark%.log%.level=(%u+)"))
    assert.is_nil(r.stderr:find("Ivy", 1, true), r.stderr)
    assert.is_nil(r.stderr:find("found org.postgresql", 1, true), r.stderr)
    assert.is_nil(r.stderr:find(" INFO ", 1, true), r.stderr)
    assert.matches("WARN Standin: a warning the user should see", r.stderr, 1, true)
    assert.matches("a line of the job itself", r.stderr, 1, true)
  end)

  it("--verbose shows Spark's whole log at INFO", function()
    local r = exec({"--verbose"})
    assert.equal(0, r.status, r.stderr)
    assert.equal("INFO", cli.slurp(record .. "/argv"):match("spark%.log%.level=(%u+)"))
    assert.matches("Ivy Default Cache", r.stderr, 1, true)
    assert.matches(" INFO SparkContext", r.stderr, 1, true)
  end)

  it("draws a one-line progress indicator on a terminal, from the job's status file", function()
    local env = {}
    for k, v in pairs(BASE_ENV) do if v then env[#env + 1] = k .. "=" .. cli.quote(v) end end
    local cmd = ("cd %s && env -u SPARK_HOME %s %s exec orders exec_probe --schema %s --context as_of=2026-11-15"):format(
      cli.quote(root), table.concat(env, " "), cli.quote(cli.BIN), cli.quote(cli.SHOP))
    local out = cli.sh("script -qec " .. cli.quote(cmd) .. " /dev/null")
    assert.truthy(out, "script failed")
    assert.matches("\r\27%[K%[spark%] stage 1: 2/4 tasks done", out)
    assert.truthy(cli.slurp(record .. "/argv"):find("\n--progress\n", 1, true))
    -- not on a pipe
    local r = exec()
    assert.is_nil(cli.slurp(record .. "/argv"):find("--progress", 1, true))
    assert.is_nil(r.stderr:find("[spark]", 1, true))
  end)

  it("prints the job's line about what it wrote", function()
    local r = exec({"--output", root .. "/fresh-out", "--format", "csv"},
      {STANDIN_OUTPUT = '"wrote 3 rows to /x (csv, 1 file)"'})
    assert.equal(0, r.status, r.stderr)
    assert.matches("wrote 3 rows to /x (csv, 1 file)\n", r.stderr, 1, true)
    local argv = lines(record .. "/argv")
    assert.equal(root .. "/fresh-out", after(argv, "--output"))
    assert.equal("csv", after(argv, "--format"))
  end)

  it("refuses an existing --output path in one line, before anything runs, touching nothing", function()
    local out = root .. "/existing-out"
    os.execute("mkdir -p " .. cli.quote(out))
    cli.write(out .. "/keep.csv", "a\n1\n")
    local r = exec({"--output", out})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("sparkgen: " .. out .. " already exists: not touched", r.stderr, 1, true)
    assert.is_nil(io.open(record .. "/argv"))
    assert.equal("a\n1\n", cli.slurp(out .. "/keep.csv"))
  end)

  it("passes --mode and the file-count options on to the job", function()
    local out = root .. "/existing-out"
    local r = exec({"--output", out, "--mode", "overwrite", "--partitions", "3"})
    assert.equal(0, r.status, r.stderr)
    local argv = lines(record .. "/argv")
    assert.equal("overwrite", after(argv, "--mode"))
    assert.equal("3", after(argv, "--partitions"))
  end)

  it("rejects output options that cannot work together as usage errors", function()
    for _, argv in ipairs{{"--mode", "append"}, {"--single-file"}, {"--format", "csv"},
                          {"--output", "x", "--output-table", "t"}, {"--output", "x", "--single-file", "--partitions", "2"},
                          {"--master", "local[1]", "--remote", "sc://127.0.0.1:1"}} do
      local r = exec(argv)
      assert.equal(2, r.status, table.concat(argv, " ") .. ": " .. r.stderr)
      assert.equal(1, cli.lines(r.stderr), r.stderr)
    end
  end)

  it("fails in one line, before spark-submit starts, when the database is down", function()
    local r = exec({}, {PGHOST = "127.0.0.1", PGPORT = "1"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("^sparkgen: the database is unreachable: ", r.stderr)
    assert.is_nil(r.stderr:find("s3cret-pw-Zq9", 1, true))
    assert.is_nil(io.open(record .. "/argv"))
  end)

  it("names the tables the database does not have, before spark-submit starts", function()
    local r = exec({}, {PGDATABASE = empty:match("dbname=(%S+)"), PGUSER = "postgres", PGPASSWORD = false})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("sparkgen: the database has no table public.orders", r.stderr, 1, true)
    assert.is_nil(io.open(record .. "/argv"))
  end)

  it("names a spark.pass_env item that is not a variable name", function()
    cli.write(root .. "/badpass.lua", 'return {spark = {pass_env = {"OK_NAME", "not a name"}}}')
    local r = exec({"--config", root .. "/badpass.lua"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("'spark.pass_env' item 2 must be an environment variable name, got 'not a name'", r.stderr, 1, true)
  end)

  it("refuses cluster deploy mode, whose driver could not receive the credentials", function()
    cli.write(root .. "/cluster.lua", "return {spark = {pass_env = {" .. PASS .. "}, conf = {[\"spark.submit.deployMode\"] = \"cluster\"}}}")
    local r = exec({"--config", root .. "/cluster.lua"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("spark.submit.deployMode = cluster is not supported", r.stderr, 1, true)
  end)

  it("exits 3 and names each failed validation check", function()
    local r = exec({}, {STANDIN_FAIL = "non_empty"})
    assert.equal(3, r.status)
    assert.matches("sparkgen: check failed: non_empty: The result has at least one row. (1 violating rows)\n",
      r.stderr, 1, true)
    assert.matches("sparkgen: validation failed: non_empty", r.stderr, 1, true)
  end)

  it("says in one line what to install when spark-submit is missing", function()
    local r = exec({}, {PATH = "/usr/bin:/bin", XDG_DATA_HOME = root .. "/no-data"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("spark-submit not found: run `sparkgen spark install`", r.stderr, 1, true)
  end)
end)

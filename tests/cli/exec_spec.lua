-- End-to-end: `sparkgen exec` with a stand-in spark-submit on PATH that records its argv
-- and environment, so the hand-over to Spark is pinned without starting a JVM. The
-- request uses a small type defined here (a user root on SPARKGEN_PATH), so the spec does
-- not depend on the built-in types' details.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")

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

-- Records argv (one per line), the job-related environment and the job file; answers
-- like a job would: a report file, rows on stdout, exit 3 when STANDIN_FAIL names a check.
cli.write(bindir .. "/spark-submit", [[
#!/bin/sh
d="$STANDIN_RECORD"
mkdir -p "$d"
: > "$d/argv"
report=""; prev=""
for a in "$@"; do
  printf '%s\n' "$a" >> "$d/argv"
  [ "$prev" = "--report" ] && report="$a"
  case "$a" in *.py) cp "$a" "$d/job.py" ;; esac
  prev="$a"
done
env | grep -E '^(SPARKGEN_JDBC_[A-Z]*|TZ|SPARK_LOCAL_IP)=' | sort > "$d/env"
if [ -n "$STANDIN_FAIL" ]; then
  printf '{"status":"failed_checks","failed_checks":["%s"],"error":null,"failures":[{"name":"%s","description":"The result has at least one row.","detail":"1 violating rows"}]}' "$STANDIN_FAIL" "$STANDIN_FAIL" > "$report"
  exit 3
fi
printf '{"status":"ok","failed_checks":[],"error":null}' > "$report"
echo '{"customer_id": 7, "orders": 3}'
exit 0
]])
os.execute("chmod +x " .. cli.quote(bindir .. "/spark-submit"))

-- Empty strings rather than unset variables: tests/lib/cli.lua cannot unset after setting.
local BASE_ENV = {
  SPARKGEN_PATH = root, PATH = bindir .. ":/usr/bin:/bin", STANDIN_RECORD = record,
  SPARK_HOME = "", PGHOST = "dbhost.example", PGPORT = "6543", PGDATABASE = "shop",
  PGUSER = "alice", PGPASSWORD = "s3cret-pw-Zq9", STANDIN_FAIL = "",
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
    out[k] = v
  end
  return out
end

-- The value following `flag` in the recorded argv.
local function after(argv, flag)
  for i, a in ipairs(argv) do if a == flag then return argv[i + 1] end end
end

describe("sparkgen exec with a stand-in spark-submit", function()
  teardown(function() cli.rmdir(root) end)

  it("passes the master from --master and the JDBC driver package", function()
    local r = exec({"--master", "local[3]"})
    assert.equal(0, r.status, r.stderr)
    local argv = lines(record .. "/argv")
    assert.equal("local[3]", after(argv, "--master"))
    assert.equal("org.postgresql:postgresql:42.7.14", after(argv, "--packages"))
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

  it("never puts the password in argv or in the job file", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    assert.is_nil(cli.slurp(record .. "/argv"):find("s3cret-pw-Zq9", 1, true))
    assert.is_nil(cli.slurp(record .. "/job.py"):find("s3cret-pw-Zq9", 1, true))
  end)

  it("hands the JDBC URL and credentials to the job in its environment", function()
    local r = exec()
    assert.equal(0, r.status, r.stderr)
    local env = env_map()
    assert.equal("jdbc:postgresql://dbhost.example:6543/shop", env.SPARKGEN_JDBC_URL)
    assert.equal("alice", env.SPARKGEN_JDBC_USER)
    assert.equal("s3cret-pw-Zq9", env.SPARKGEN_JDBC_PASSWORD)
  end)

  it("reaches a socket directory through junixsocket", function()
    local r = exec({}, {PGHOST = "/run/pgtest", PGPORT = "5433"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("com.kohlschutter.junixsocket:junixsocket-core:",
      after(lines(record .. "/argv"), "--packages"), 1, true)
    local env = env_map()
    assert.equal("jdbc:postgresql://localhost/shop", env.SPARKGEN_JDBC_URL)
    assert.matches("socketFactoryArg=/run/pgtest/.s.PGSQL.5433", env.SPARKGEN_JDBC_PROPERTIES, 1, true)
  end)

  it("passes the output options to the job and prints its rows on stdout", function()
    local r = exec({"--json", "--limit", "5"})
    assert.equal(0, r.status, r.stderr)
    local argv = lines(record .. "/argv")
    assert.equal("5", after(argv, "--limit"))
    assert.truthy(table.concat(argv, "\n"):find("\n--json\n", 1, true))
    assert.equal('{"customer_id": 7, "orders": 3}\n', r.stdout)
  end)

  it("exits 3 and names each failed validation check", function()
    local r = exec({}, {STANDIN_FAIL = "non_empty"})
    assert.equal(3, r.status)
    assert.matches("sparkgen: check failed: non_empty: The result has at least one row. (1 violating rows)\n",
      r.stderr, 1, true)
    assert.matches("sparkgen: validation failed: non_empty", r.stderr, 1, true)
  end)

  it("says in one line what to install when spark-submit is missing", function()
    local r = exec({}, {PATH = "/usr/bin:/bin"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("spark-submit not found: run `make spark`", r.stderr, 1, true)
  end)
end)

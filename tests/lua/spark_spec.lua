-- spark.lua: libpq connection → JDBC settings, and the spark-submit argv (never a
-- secret in it).
local spark = require "sparkgen.spark"
local sys = require "sparkgen.sys"

-- parse_conninfo falls back on the PG* variables; clear them so the host's do not leak in.
local PGVARS = {"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE"}
local saved = {}
setup(function()
  for _, k in ipairs(PGVARS) do saved[k] = os.getenv(k) or false; sys.setenv(k, nil) end
end)
teardown(function()
  for _, k in ipairs(PGVARS) do sys.setenv(k, saved[k] or nil) end
end)

describe("spark.jdbc", function()
  it("turns a URI into a JDBC URL with the user and password kept apart", function()
    local j = assert(spark.jdbc({db = "postgresql://bob:p%40ss@db.example:6543/shop?sslmode=require"}))
    assert.equal("jdbc:postgresql://db.example:6543/shop", j.url)
    assert.equal("bob", j.user)
    assert.equal("p@ss", j.password)
    assert.equal("require", j.properties.sslmode)
    assert.is_false(j.socket)
  end)

  it("reads a key=value string with a quoted password", function()
    local j = assert(spark.jdbc({db = [[host=db port=5432 dbname=shop user=bob password='it\'s ok']]}))
    assert.equal("jdbc:postgresql://db:5432/shop", j.url)
    assert.equal("it's ok", j.password)
  end)

  it("takes the password from PGPASSWORD when the string has none", function()
    sys.setenv("PGPASSWORD", "from-env")
    local j = assert(spark.jdbc({db = "host=db dbname=shop user=bob"}))
    sys.setenv("PGPASSWORD", nil)
    assert.equal("from-env", j.password)
  end)

  it("reaches a socket directory through junixsocket's factory", function()
    local j = assert(spark.jdbc({db = "host=/tmp/pg/sock port=5433 dbname=shop user=postgres"}))
    assert.is_true(j.socket)
    assert.equal("jdbc:postgresql://localhost/shop", j.url)
    assert.equal(spark.SOCKET_FACTORY, j.properties.socketFactory)
    assert.equal("/tmp/pg/sock/.s.PGSQL.5433", j.properties.socketFactoryArg)
  end)
end)

describe("spark.argv", function()
  local cfg = {spark = {master = "local[*]", packages = "org.postgresql:postgresql:42.7.14",
                        conf = {["spark.ui.enabled"] = "false"}}}

  it("passes master, packages, UTC and the user's conf before the job and its args", function()
    local argv = spark.argv(cfg, "/opt/spark/bin/spark-submit", "/tmp/job.py", {"--json"}, {master = "yarn"})
    assert.same({"/opt/spark/bin/spark-submit", "--master", "yarn",
      "--packages", "org.postgresql:postgresql:42.7.14",
      "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
      "--conf", "spark.executor.extraJavaOptions=-Duser.timezone=UTC",
      "--conf", "spark.log.level=WARN",
      "--conf", "spark.sql.session.timeZone=UTC",
      "--conf", "spark.ui.enabled=false",
      "/tmp/job.py", "--json"}, argv)
  end)

  it("uses a configured jar instead of --packages, adding junixsocket for sockets", function()
    local argv = spark.argv({spark = {jar = "/usr/share/java/postgresql.jar", packages = "x:y:1"}},
      "spark-submit", "job.py", {}, {socket = true})
    assert.equal("--jars", argv[4])
    assert.equal("/usr/share/java/postgresql.jar", argv[5])
    assert.equal("--packages", argv[6])
    assert.equal(spark.JUNIXSOCKET, argv[7])
  end)
end)

describe("spark.environment", function()
  it("is the whole environment: allow-listed names, TZ, the hand-over path, never a secret", function()
    sys.setenv("ANTHROPIC_API_KEY", "sk-ant-spark-spec")
    sys.setenv("PGPASSWORD", "pw-spark-spec")
    local env = spark.environment({spark = {master = "local[2]"}}, nil, {handoff = "/tmp/x/credentials.json"})
    sys.setenv("ANTHROPIC_API_KEY", nil)
    sys.setenv("PGPASSWORD", nil)
    assert.equal("UTC", env.TZ)
    assert.equal("/tmp/x/credentials.json", env.SPARKGEN_JDBC_FILE)
    assert.equal(os.getenv("PATH"), env.PATH)
    assert.equal("127.0.0.1", env.SPARK_LOCAL_IP)
    for k in pairs(env) do
      local allowed = k == "TZ" or k == "SPARKGEN_JDBC_FILE" or k == "PYSPARK_PYTHON"
      for _, name in ipairs(spark.PASS_ENV) do allowed = allowed or name == k end
      assert.is_true(allowed, k)
    end
    assert.is_nil(env.ANTHROPIC_API_KEY)
    assert.is_nil(env.PGPASSWORD)
  end)

  it("adds the names in spark.pass_env", function()
    sys.setenv("SPARK_SPEC_EXTRA", "yes")
    local env = spark.environment({spark = {master = "yarn", pass_env = {"SPARK_SPEC_EXTRA"}}}, nil, {})
    sys.setenv("SPARK_SPEC_EXTRA", nil)
    assert.equal("yes", env.SPARK_SPEC_EXTRA)
  end)
end)

describe("spark.write_handoff", function()
  it("writes the JDBC settings to a new 0600 file and refuses to reuse a path", function()
    local util = require "sparkgen.util"
    local dir = assert(sys.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/spark-spec"))
    local path = assert(spark.write_handoff(dir, {url = "jdbc:postgresql://db:5432/shop", user = "bob",
                                                  password = "pw", properties = {a = "1"}}, "sc://h:15002"))
    local h = util.json_decode(util.read_file(path))
    assert.same({url = "jdbc:postgresql://db:5432/shop", user = "bob", password = "pw", properties = {a = "1"}}, h.jdbc)
    assert.equal("sc://h:15002", h.remote)
    assert.is_true(h.one_shot)
    local p = io.popen("stat -c %a " .. path .. " " .. dir)
    assert.equal("600\n700\n", p:read("a"))
    p:close()
    local again, err = spark.write_handoff(dir, {url = "x"})
    assert.is_nil(again)
    assert.matches("File exists", err, 1, true)
    util.remove_tree(dir)
  end)
end)

describe("spark.quiet_filter", function()
  it("drops Ivy's resolution report and log lines below WARN, keeps warnings, errors and the job's lines", function()
    local keep = spark.quiet_filter()
    local kept = {}
    for _, line in ipairs{
      ":: loading settings :: url = jar:file:/x/ivy-2.5.3.jar!/ivysettings.xml",
      "Ivy Default Cache set to: /root/.ivy2.5.2/cache",
      "\tfound org.postgresql#postgresql;42.7.14 in central",
      "\t0 artifacts copied, 4 already retrieved (0kB/18ms)",
      "26/12/04 17:52:38 WARN NativeCodeLoader: Unable to load native-hadoop library for your platform...",
      "Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties",
      "26/12/04 17:52:40 INFO SparkContext: Running Spark version 4.3.0",
      "26/12/04 17:52:41 WARN TaskSetManager: Lost task 0.0",
      "26/12/04 17:52:41 ERROR Executor: Exception in task 0.0",
      "Traceback (most recent call last):",
    } do
      if keep(line) then kept[#kept + 1] = line end
    end
    assert.same({"26/12/04 17:52:41 WARN TaskSetManager: Lost task 0.0",
                 "26/12/04 17:52:41 ERROR Executor: Exception in task 0.0",
                 "Traceback (most recent call last):"}, kept)
  end)

  it("keeps an unresolved dependency, which is what an offline user must see", function()
    local keep = spark.quiet_filter()
    assert.is_false(keep(":: loading settings :: url = jar:file:/x"))
    assert.is_true(keep("\t::          UNRESOLVED DEPENDENCIES         ::"))
    assert.is_true(keep("Exception in thread \"main\" java.lang.RuntimeException: [unresolved dependency: x#y;1: not found]"))
  end)
end)

describe("spark.find_submit", function()
  it("reports a configured spark-submit that does not exist", function()
    local path, err = spark.find_submit({spark = {submit = "/nonexistent/spark-submit"}})
    assert.is_nil(path)
    assert.matches("spark.submit is set to /nonexistent/spark-submit", err, 1, true)
  end)
end)

describe("spark.jdbc against a live server", function()
  local HOME = os.getenv("SPARKGEN_HOME")
  if not (os.getenv("TEST_TMP") and os.execute(HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")) then
    pending("no PostgreSQL server binaries")
    return
  end
  local util = require "sparkgen.util"

  it("hands the job the password libpq found in ~/.pgpass (PGPASSFILE)", function()
    local p = io.popen(HOME .. "/tests/lib/pg.sh db shop " .. HOME .. "/examples/shop/schema.sql")
    local conninfo = p:read("l")
    p:close()
    assert(os.execute(HOME .. "/tests/lib/pg.sh role sparkgen_pw RightPw1 >/dev/null"))
    local host, port = conninfo:match("host=(%S+)"), conninfo:match("port=(%d+)")
    local pgpass = os.getenv("TEST_TMP") .. "/pgpass"
    assert(util.write_file(pgpass, ("%s:%s:shop:sparkgen_pw:RightPw1\n"):format(host, port)))
    os.execute("chmod 600 " .. pgpass)
    sys.setenv("PGPASSFILE", pgpass)
    local db = ("host=%s port=%s dbname=shop user=sparkgen_pw"):format(host, port)
    local j = assert(spark.jdbc({db = db}, {credentials = assert(spark.preflight({db = db}, {}))}))
    sys.setenv("PGPASSFILE", nil)
    assert.equal("sparkgen_pw", j.user)
    assert.equal("RightPw1", j.password)
    assert.is_true(j.socket)
  end)
end)

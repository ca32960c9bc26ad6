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
  it("carries the credentials and pins TZ", function()
    local env = spark.environment({spark = {master = "local[2]"}},
      {url = "jdbc:postgresql://db:5432/shop", user = "bob", password = "pw", properties = {a = "1", b = "2"}})
    assert.equal("jdbc:postgresql://db:5432/shop", env.SPARKGEN_JDBC_URL)
    assert.equal("pw", env.SPARKGEN_JDBC_PASSWORD)
    assert.equal("a=1;b=2", env.SPARKGEN_JDBC_PROPERTIES)
    assert.equal("UTC", env.TZ)
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
    local j = assert(spark.jdbc({db = db}, {connect = true}))
    sys.setenv("PGPASSFILE", nil)
    assert.equal("sparkgen_pw", j.user)
    assert.equal("RightPw1", j.password)
    assert.is_true(j.socket)
  end)
end)

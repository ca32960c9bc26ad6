-- A fresh schema when it matters: `schema diff --db` reads the live catalog (not the
-- cache) and exits 1 on differences; `schema` says how old its snapshot is; a job that
-- failed on a name the database lacks, with a cached snapshot, refreshes it once and
-- says what changed.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local HOME = cli.HOME

if not (os.getenv("TEST_TMP") and os.execute(HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")) then
  describe("fresh schema (live)", function() pending("no PostgreSQL server binaries") end)
  return
end

local DB = cli.sh(HOME .. "/tests/lib/pg.sh db fresh_schema " .. HOME .. "/examples/shop/schema.sql")
local function psql(sql) assert(os.execute(("psql -X -q %s -c %s >/dev/null"):format(cli.quote(DB), cli.quote(sql)))) end

describe("fresh schema (live)", function()
  local dir
  setup(function() dir = cli.tempdir() end)
  teardown(function() cli.rmdir(dir) end)

  it("says how old the snapshot is: read just now, then from the cache", function()
    local first = cli.run({"schema", "--db", DB, "orders"})
    assert.equal(0, first.status, first.stderr)
    assert.matches("\n  snapshot: captured [%dT:Z-]+, %d+ s ago, read just now\n$", first.stdout)
    local second = cli.run({"schema", "--db", DB})
    assert.matches("; captured [%dT:Z-]+, %d+ s ago, from the cache%)\n$", second.stdout)
  end)

  it("diffs against the live catalog, not the cached snapshot, and exits 1 on differences", function()
    local before = dir .. "/before.json"
    assert.equal(0, cli.run({"schema", "--db", DB, "dump", before}).status)
    psql("ALTER TABLE orders ADD COLUMN channel text")
    -- the cache still holds the old catalog...
    assert.falsy(cli.run({"schema", "--db", DB, "orders"}).stdout:find("channel", 1, true))
    -- ...but diff reads the database
    local r = cli.run({"schema", "diff", before, "--db", DB})
    assert.equal(1, r.status, r.stderr)
    assert.equal("~ public.orders\n    + column channel\n", r.stdout)
    local same = cli.run({"schema", "diff", before, before})
    assert.equal(0, same.status)
  end)

  it("refreshes a cached snapshot once after a job failed on a renamed column, saying what changed", function()
    local config = require "sparkgen.config"
    local generator = require "sparkgen.generator"
    local refresh = require "sparkgen.schema_refresh"
    local cfg = assert(config.load{files = {}, flags = {db = DB}})
    -- the last test's diff rewrote the cache with `channel`; now rename it
    psql("ALTER TABLE orders RENAME COLUMN channel TO sales_channel")
    local S = assert(generator.schema(cfg))
    assert.is_true(S.cached)
    local spark_error = "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter " ..
      "with name `channel` cannot be resolved. Did you mean one of the following? [`order_id`]"
    local result = {tables_used = {"orders"}}
    assert.is_nil(refresh.after_failure(cfg, result, "Py4JJavaError: out of memory"))
    local r = assert(refresh.after_failure(cfg, result, spark_error))
    assert.is_true(r.changed, r.message)
    assert.matches("the schema was a cached snapshot (captured ", r.message, 1, true)
    assert.matches("public.orders: - channel, + sales_channel", r.message, 1, true)
    -- the fresh catalog is what this process and the next see, and it happens once
    local t = assert(generator.schema(cfg):table("orders"))
    assert.equal("sales_channel", t.columns[#t.columns].name)
    assert.is_nil(refresh.after_failure(cfg, result, spark_error))
    assert.matches("sales_channel", cli.run({"schema", "--db", DB, "orders"}).stdout, 1, true)
  end)
end)

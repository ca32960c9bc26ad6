-- End-to-end `sparkgen schema` against the throwaway PostgreSQL server: listing, one
-- table with relationships, dump/diff, --for, and every failure as one line.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local cjson = require "cjson.safe"

local HOME = cli.HOME
local TMP = os.getenv("TEST_TMP") or "/tmp"
local PAGILA = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua").PAGILA

local sh = cli.sh

local function schema_cmd(argv, opts)
  local full = {"schema"}
  for _, a in ipairs(argv) do full[#full + 1] = a end
  return cli.run(full, opts)
end

describe("sparkgen schema (offline)", function()
  it("shows a table from a snapshot file", function()
    local r = schema_cmd({"--schema", cli.SHOP, "orders"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("^public%.orders  %(table", r.stdout)
    assert.matches("references:", r.stdout)
  end)

  it("diffs a snapshot against itself as no differences", function()
    local r = schema_cmd({"diff", cli.SHOP, cli.SHOP})
    assert.equal(0, r.status, r.stderr)
    assert.equal("no differences\n", r.stdout)
  end)

  it("prints the catalog query for benchmarks", function()
    local r = schema_cmd({"--print-catalog-query"})
    assert.equal(0, r.status)
    assert.matches("FROM pg_class c", r.stdout)
  end)

  it("says how to give a schema when there is none", function()
    local r = schema_cmd({}, {env = {DATABASE_URL = false, PGHOST = false, PGDATABASE = false,
                                     PGSERVICE = false, SPARKGEN_DB = false, SPARKGEN_SCHEMA = false}})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("^sparkgen: no schema: give a snapshot with %-%-schema FILE", r.stderr)
  end)
end)

if not (os.getenv("TEST_TMP") and os.execute(HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")) then
  describe("sparkgen schema (live)", function() pending("no PostgreSQL server binaries") end)
  return
end

local AWKWARD = sh(HOME .. "/tests/lib/pg.sh db awkward " .. HOME .. "/tests/sql/awkward.sql")

describe("sparkgen schema (live, awkward schema)", function()
  it("lists tables, views and partitioned tables with partitions folded", function()
    local r = schema_cmd({"--db", AWKWARD})
    assert.equal(0, r.status, r.stderr)
    assert.matches('\nsales%."Order Items"  %(table, ', r.stdout)
    assert.matches("\npublic%.events  %(partitioned table, ~3,000 rows%)", r.stdout)
    assert.matches("\nsales%.big_lines  %(view, rows unknown%)", r.stdout)
    assert.matches("\nsales%.order_totals  %(materialized view", r.stdout)
    assert.not_matches("events_2025", r.stdout)
    assert.matches('\n    "OrderID"   integer  not null  PK%(1%)', r.stdout)
  end)

  it("shows one table with its relationships in both directions", function()
    local r = schema_cmd({"--db", AWKWARD, "sales.shipments"})
    assert.equal(0, r.status, r.stderr)
    assert.matches('%(order_id, line_no%) %-> sales%."Order Items"%("OrderID", "LineNo"%)', r.stdout)
    assert.matches("%(customer_id%) %-> public%.customers%(customer_id%)", r.stdout)
    local c = schema_cmd({"--db", AWKWARD, "customers"})
    assert.matches("referenced by:\n.*sales%.shipments%(customer_id%)", c.stdout)
  end)

  it("gives one table as JSON with keys and relationships", function()
    local r = schema_cmd({"--db", AWKWARD, '"Order Items"', "--json"})
    assert.equal(0, r.status, r.stderr)
    local v = assert(cjson.decode(r.stdout))
    assert.equal('sales."Order Items"', v.qualified)
    assert.equal("sales.Order Items", v.read_table)
    assert.same({"OrderID", "LineNo"}, v.primary_key)
    assert.equal("shipments", v.foreign_keys.incoming[1].table)
  end)

  it("fails for a missing table with one line and the closest names", function()
    local r = schema_cmd({"--db", AWKWARD, "custmers"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("^sparkgen: no table 'custmers' in the schema .*did you mean: customers", r.stderr)
  end)

  it("treats a table name with quotes and semicolons as data", function()
    local r = schema_cmd({"--db", AWKWARD, "x'; DROP TABLE y; --"})
    assert.equal(0, r.status, r.stderr)
    assert.matches([[^public%."x'; DROP TABLE y; %-%-"]], r.stdout)
    local bad = schema_cmd({"--db", AWKWARD, "q'; DROP TABLE y; --"})
    assert.equal(1, bad.status)
    assert.equal(1, cli.lines(bad.stderr))
    assert.equal(0, schema_cmd({"--db", AWKWARD, "--refresh", "y"}).status)
  end)

  it("dumps a snapshot that diffs clean against the live database", function()
    local file = TMP .. "/awkward-dump.json"
    local r = schema_cmd({"--db", AWKWARD, "dump", file})
    assert.equal(0, r.status, r.stderr)
    local doc = assert(cjson.decode(cli.slurp(file)))
    assert.equal("sparkgen.schema/1", doc.format)
    local d = schema_cmd({"diff", file, "--db", AWKWARD})
    assert.equal("no differences\n", d.stdout)
    local offline = schema_cmd({"--schema", file, "sales.shipments"})
    assert.matches('%-> sales%."Order Items"', offline.stdout)
  end)

  it("shows the tables a request would give the model", function()
    local r = schema_cmd({"--db", AWKWARD, "--for", "shipments per customer", "--table", "sales.shipments"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("^ 1%. sales%.shipments", r.stdout)
    assert.matches("public%.customers", r.stdout)
  end)

  it("serves a second process from the cache without the database", function()
    local real_sock = AWKWARD:match("host=(%S+)")
    local link = TMP .. "/cli-sock-link"
    os.remove(link)
    assert(os.execute(("ln -s %s %s"):format(real_sock, link)))
    local via_link = AWKWARD:gsub("host=%S+", "host=" .. link)
    assert.equal(0, schema_cmd({"--db", via_link, "customers"}).status)
    os.remove(link)
    local r = schema_cmd({"--db", via_link, "customers"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("referenced by:", r.stdout)
    local fresh = schema_cmd({"--db", via_link, "--refresh", "customers"})
    assert.equal(1, fresh.status)
    assert.equal(1, cli.lines(fresh.stderr))
    assert.matches("%-%-allow%-stale would use it", fresh.stderr)
  end)

  it("serves a warm lookup without even loading libpq", function()
    assert.equal(0, schema_cmd({"--db", AWKWARD, "customers"}).status)
    local empty = TMP .. "/no-modules"
    os.execute("mkdir -p " .. empty)
    -- With no primitive modules to load, anything that needs libpq fails loudly.
    local r = schema_cmd({"--db", AWKWARD, "customers"}, {env = {SPARKGEN_MODULE_DIR = empty}})
    assert.equal(0, r.status, r.stderr)
    assert.matches("referenced by:", r.stdout)
    local cold = schema_cmd({"--db", AWKWARD, "--refresh", "customers"}, {env = {SPARKGEN_MODULE_DIR = empty}})
    assert.is_not.equal(0, cold.status)
    assert.matches("cannot load the sparkgen.pg primitive", cold.stderr)
  end)
end)

describe("sparkgen schema connection failures", function()
  it("says which server it tried when the server is down", function()
    local r = schema_cmd({"--db", "host=" .. TMP .. "/no-server dbname=shop user=u"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("^sparkgen: cannot connect to PostgreSQL %(host=.*/no%-server port=5432 dbname=shop user=u%)", r.stderr)
  end)

  it("says the database does not exist", function()
    local r = schema_cmd({"--db", (AWKWARD:gsub("dbname=%S+", "dbname=nope"))})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches('database "nope" does not exist', r.stderr)
  end)

  it("rejects a wrong password without showing it, from the URI or PGPASSWORD", function()
    assert(os.execute(HOME .. "/tests/lib/pg.sh role sparkgen_pw RightPw1 >/dev/null"))
    local base = AWKWARD:gsub("user=%S+", "user=sparkgen_pw")
    local r = schema_cmd({"--db", base .. " password=WrongPw9"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("password authentication failed", r.stderr)
    assert.not_matches("WrongPw9", r.stderr)
    local e = schema_cmd({"--db", base}, {env = {PGPASSWORD = "WrongPw9"}})
    assert.equal(1, e.status)
    assert.not_matches("WrongPw9", e.stderr)
  end)
end)

describe("sparkgen schema (live, example databases)", function()
  it("reads the shop database exactly as its committed snapshot says", function()
    local shop = sh(HOME .. "/tests/lib/pg.sh db shop " .. HOME .. "/examples/shop/schema.sql")
    local r = schema_cmd({"diff", cli.SHOP, "--db", shop})
    assert.equal(0, r.status, r.stderr)
    assert.equal("no differences\n", r.stdout)
  end)

  it("shows pagila's payment as one partitioned table with its keys on the parent", function()
    local pagila = sh(("%s/tests/lib/pg.sh db pagila %s/pagila-schema.sql %s/pagila-data.sql"):format(HOME, PAGILA, PAGILA))
    local r = schema_cmd({"--db", pagila, "payment"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("^public%.payment  %(partitioned table", r.stdout)
    assert.matches("%(customer_id%) %-> public%.customer%(customer_id%)", r.stdout)
    assert.matches("%(rental_id%) %-> public%.rental%(rental_id%)", r.stdout)
    local list = schema_cmd({"--db", pagila})
    assert.not_matches("payment_p2022", list.stdout)
  end)
end)

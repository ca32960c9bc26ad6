-- A warehouse that names the built-in types' tables differently: --table NAME=TABLE and
-- config `tables` map them, end to end — template rendering, lint, the job, the prompt.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local util = require "sparkgen.util"

-- The shop snapshot with its tables moved to schema "sales" under other names.
local RENAMED = {orders = "shop_orders", order_items = "shop_items", products = "catalog",
                 customers = "clients"}
local function renamed_snapshot(path)
  local doc = assert(util.json_decode(cli.slurp(cli.SHOP)))
  for _, t in ipairs(doc.tables) do
    t.schema = "sales"
    t.name = RENAMED[t.name] or t.name
    for _, fk in ipairs(t.foreign_keys or {}) do
      fk.ref_schema = "sales"
      fk.ref_table = RENAMED[fk.ref_table] or fk.ref_table
    end
  end
  cli.write(path, util.json_encode(doc, 2))
end

local MAP = {"--table", "orders=sales.shop_orders", "--table", "order_items=sales.shop_items",
             "--table", "products=sales.catalog"}

describe("table mapping", function()
  local dir, snap
  local function argv(base, extra)
    local out = util.copy(base)
    for _, a in ipairs(extra or {}) do out[#out + 1] = a end
    return out
  end
  before_each(function()
    dir = cli.tempdir()
    snap = dir .. "/renamed.json"
    renamed_snapshot(snap)
  end)
  after_each(function() cli.rmdir(dir) end)

  it("says which tables are missing and how to map them when the names differ", function()
    local r = cli.run({"generate", "sales.shop_orders", "revenue_by_category", "--schema", snap, "--no-log"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("type 'revenue_by_category' needs tables orders, order_items, products, not found", r.stderr, 1, true)
    assert.matches("--table NAME=SCHEMA.TABLE", r.stderr, 1, true)
  end)

  it("renders the template with the mapped names, passes lint and writes a job reading them", function()
    local job = dir .. "/job.py"
    local r = cli.run(argv({"generate", "orders", "revenue_by_category", "--schema", snap, "--no-log",
                            "--job", job, "--json"}, MAP))
    assert.equal(0, r.status, r.stderr)
    local res = assert(util.json_decode(r.stdout))
    assert.same({}, res.findings)
    assert.matches('read_table("sales.shop_orders")', res.code, 1, true)
    assert.matches('read_table("sales.shop_items")', res.code, 1, true)
    assert.matches('read_table("sales.catalog")', res.code, 1, true)
    assert.falsy(res.code:find('read_table("orders")', 1, true))
    assert.same({orders = "sales.shop_orders", order_items = "sales.shop_items", products = "sales.catalog"},
                res.request.tables)
    local text = cli.slurp(job)
    assert.matches('"sales.shop_orders": {"dbtable": "sales.shop_orders"}', text, 1, true)
    local lint = cli.run({"lint", job, "--schema", snap})
    assert.equal(0, lint.status, lint.stdout .. lint.stderr)
  end)

  it("takes the map from the config's tables too", function()
    cli.write(dir .. "/sparkgen.lua", [[return {tables = {orders = "sales.shop_orders",
      order_items = "sales.shop_items", products = "sales.catalog"}}]])
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", snap, "--no-log"}, {cwd = dir})
    assert.equal(0, r.status, r.stderr)
    assert.matches('read_table("sales.catalog")', r.stdout, 1, true)
  end)

  it("tells the model the mapping in the prompt", function()
    local r = cli.run(argv({"prompt", "orders", "revenue_by_category", "--schema", snap,
                            "--provider", "anthropic"}, MAP))
    assert.equal(0, r.status, r.stderr)
    assert.matches("`orders` is `read_table(\\\"sales.shop_orders\\\")`", r.stdout, 1, true)
    assert.matches("`products` is `read_table(\\\"sales.catalog\\\")`", r.stdout, 1, true)
  end)

  it("rejects a name the type does not use, with the closest one", function()
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", snap, "--no-log",
                       "--table", "ordrs=sales.shop_orders"})
    assert.equal(1, r.status)
    assert.equal("sparkgen: --table ordrs: type 'revenue_by_category' uses no table 'ordrs' (did you mean: orders?); "
      .. "its tables: orders, order_items, products\n", r.stderr)
  end)

  it("rejects a malformed --table and an unknown name in the config's tables", function()
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", snap, "--table", "orders"})
    assert.equal(2, r.status)
    assert.equal("sparkgen: bad --table 'orders': expected NAME=TABLE, e.g. --table orders=sales.orders\n", r.stderr)
    cli.write(dir .. "/sparkgen.lua", [[return {tables = {prodcts = "sales.catalog"}}]])
    r = cli.run({"generate", "orders", "revenue_by_category", "--schema", snap, "--no-log"}, {cwd = dir})
    assert.equal(1, r.status)
    assert.equal("sparkgen: config tables: no type uses a table 'prodcts' (did you mean: products?)\n", r.stderr)
  end)
end)

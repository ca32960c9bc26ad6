-- The schema service: snapshot files, name resolution, quoting, selection, JSON, diff
-- (offline), and the live path's cache (TTL, --refresh, --allow-stale, no database
-- access on a hit) against the throwaway server from tests/lib/pg.sh.
local schema = require "sparkgen.schema"
local util = require "sparkgen.util"

local HOME = os.getenv("SPARKGEN_HOME") or "."
local SHOP = HOME .. "/examples/shop/schema.json"
local TMP = os.getenv("TEST_TMP") or "/tmp"

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function col(name, type_, extra)
  local c = {name = name, type = type_ or "integer", nullable = true}
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- A small catalog with the awkward cases, in memory.
local function sample()
  return schema.from_tables({
    {schema = "public", name = "customers", columns = {col("customer_id"), col("email", "text")},
     primary_key = {"customer_id"}, foreign_keys = {}},
    {schema = "sales", name = "customers", columns = {col("id")}, primary_key = {"id"}},
    {schema = "public", name = "orders", rows = 1200,
     columns = {col("order_id"), col("customer_id"), col("total", "numeric(10,2)")},
     primary_key = {"order_id"},
     foreign_keys = {{name = "orders_customer_fkey", columns = {"customer_id"}, ref_schema = "public",
                      ref_table = "customers", ref_columns = {"customer_id"}}}},
    {schema = "public", name = "order_items", columns = {col("order_id"), col("line_no")},
     primary_key = {"order_id", "line_no"},
     foreign_keys = {{name = "items_order_fkey", columns = {"order_id"}, ref_schema = "public",
                      ref_table = "orders", ref_columns = {"order_id"}}}},
    {schema = "sales", name = "Order Items", columns = {col("OrderID")}, primary_key = {}},
    {schema = "hr", name = "staff", columns = {col("staff_id")}},
    {schema = "a", name = "dup", columns = {col("x")}},
    {schema = "b", name = "dup", columns = {col("x")}},
    {schema = "public", name = "warehouses", columns = {col("warehouse_id")}},
    {schema = "public", name = "refunds", columns = {col("refund_id")}},
  })
end

local function names(list)
  local out = {}
  for i, t in ipairs(list) do out[i] = t.schema .. "." .. t.name end
  return out
end

describe("schema.quote_ident", function()
  it("leaves plain lower-case names bare", function()
    assert.equal("orders", schema.quote_ident("orders"))
    assert.equal("order_items2", schema.quote_ident("order_items2"))
    assert.equal("name", schema.quote_ident("name")) -- an unreserved keyword
  end)
  it("quotes mixed case, spaces, leading digits and reserved words", function()
    assert.equal('"OrderID"', schema.quote_ident("OrderID"))
    assert.equal('"Order Items"', schema.quote_ident("Order Items"))
    assert.equal('"2024_sales"', schema.quote_ident("2024_sales"))
    assert.equal('"select"', schema.quote_ident("select"))
    assert.equal('"user"', schema.quote_ident("user"))
  end)
  it("doubles embedded quotes", function()
    assert.equal([["x""; DROP TABLE y; --"]], schema.quote_ident('x"; DROP TABLE y; --'))
  end)
  it("qualifies with the schema", function()
    assert.equal('sales."Order Items"', schema.qualified({schema = "sales", name = "Order Items"}))
  end)
end)

describe("schema.parse_name", function()
  it("splits schema.name and unquotes quoted parts", function()
    assert.same({{text = "sales", quoted = false}, {text = "Order Items", quoted = true}},
      schema.parse_name('sales."Order Items"'))
    assert.same({{text = 'a"b', quoted = true}}, schema.parse_name('"a""b"'))
  end)
  it("rejects an unterminated quote", function()
    local ok, err = schema.parse_name('"Order Items')
    assert.is_nil(ok)
    assert.matches("unterminated", err)
  end)
end)

describe("Schema:table", function()
  local S = sample()
  it("resolves a bare name in public first", function()
    assert.equal("public", S:table("customers").schema)
  end)
  it("resolves a unique name in another schema", function()
    assert.equal("hr", S:table("staff").schema)
  end)
  it("resolves schema.name and quoted identifiers", function()
    assert.equal("sales", S:table("sales.customers").schema)
    assert.equal("Order Items", S:table('"Order Items"').name)
    assert.equal("Order Items", S:table('sales."Order Items"').name)
  end)
  it("folds an unquoted name to lower case like PostgreSQL", function()
    assert.equal("orders", S:table("ORDERS").name)
  end)
  it("says which schemas an ambiguous name is in", function()
    local t, err = S:table("dup")
    assert.is_nil(t)
    assert.equal("table name 'dup' is ambiguous: a.dup, b.dup (use schema.name)", err)
  end)
  it("suggests the closest names for a missing table", function()
    local t, err = S:table("ordres")
    assert.is_nil(t)
    assert.matches("no table 'ordres' in the schema", err)
    assert.matches("did you mean: orders", err)
  end)
end)

describe("Schema:foreign_keys (snapshot)", function()
  it("gives outgoing keys from the file and incoming ones by scanning", function()
    local S = sample()
    local rel = S:foreign_keys("orders")
    assert.equal("customers", rel.outgoing[1].ref_table)
    assert.equal(1, #rel.incoming)
    assert.equal("order_items", rel.incoming[1].table)
  end)
end)

describe("Schema:select", function()
  local S = sample()
  it("puts the source first, then the type's tables, then key neighbours", function()
    local got = names(S:select{source = "order_items", tables = {"warehouses"}, text = ""})
    assert.same({"public.order_items", "public.warehouses", "public.orders", "public.customers"}, got)
  end)
  it("adds tables the request names and respects the budget", function()
    local got = names(S:select{source = "orders", text = "refunds per staff member", budget = 10})
    assert.equal("public.orders", got[1])
    assert.truthy(util.closest("public.refunds", got)[1] == "public.refunds")
    assert.truthy(util.closest("hr.staff", got)[1] == "hr.staff")
    assert.equal(2, #S:select{source = "orders", text = "refunds per staff member", budget = 2})
  end)
  it("walks a source's key neighbourhood once for every request from it, still ranking by their words", function()
    local S2 = sample()
    local walks = 0
    local fks = S2.foreign_keys
    S2.foreign_keys = function(self, t) walks = walks + 1 return fks(self, t) end
    local plain = names(S2:select{source = "order_items", text = ""})
    local first = walks
    assert.is_true(first > 0)
    local named = names(S2:select{source = "order_items", text = "customers per order item"})
    assert.equal(first, walks)
    assert.same({"public.order_items", "public.orders", "public.customers"}, plain)
    -- the same tables, in the same order, as a schema that never saw the first request
    assert.same(names(sample():select{source = "order_items", text = "customers per order item"}), named)
    assert.same({"public.order_items", "public.orders", "public.customers", "sales.customers",
                 "sales.Order Items"}, named)
  end)
end)

describe("snapshot files", function()
  it("open the shop example", function()
    local S = assert(schema.open({schema = SHOP}))
    local t = assert(S:table("orders"))
    assert.equal("table", t.kind)
    assert.is_true(#t.columns > 0)
  end)

  it("fail with one clear line for invalid JSON", function()
    local path = TMP .. "/bad_schema.json"
    write(path, "{not json")
    local S, err = schema.open({schema = path})
    assert.is_nil(S)
    assert.matches("^schema snapshot .*bad_schema.json is not valid JSON", err)
    assert.not_matches("\n", err)
  end)

  it("fail with one clear line for a missing file", function()
    local S, err = schema.open({schema = TMP .. "/no_such_schema.json"})
    assert.is_nil(S)
    assert.matches("^cannot read schema snapshot .*no_such_schema.json", err)
  end)

  it("reject an unknown format", function()
    local path = TMP .. "/other_format.json"
    write(path, '{"format": "other/9", "tables": []}')
    local _, err = schema.open({schema = path})
    assert.matches("unknown format other/9", err)
  end)

  it("round-trip through to_json", function()
    local S = sample()
    local path = TMP .. "/roundtrip.json"
    write(path, S:to_json())
    local S2 = assert(schema.from_file(path))
    assert.same(schema.diff(S, S2), {added = {}, removed = {}, changed = {}})
    assert.equal(#S:tables(), #S2:tables())
    assert.same(S:table("orders").primary_key, S2:table("orders").primary_key)
  end)

  it("are written exactly like the canonical encoder when every value is present", function()
    local t = {schema = "public", name = "t", kind = "table", comment = "c", rows = 5,
               columns = {{name = "a", position = 1, type = "integer", nullable = false,
                           default = "0", generated = true, comment = "why"}},
               primary_key = {"a"},
               foreign_keys = {{name = "f", columns = {"a"}, ref_schema = "public",
                                ref_table = "u", ref_columns = {"b"}}}}
    local source = {kind = "memory"}
    assert.equal(util.json_encode({format = schema.FORMAT, source = source, tables = {t}}, 2),
                 schema.encode_snapshot(source, {t}))
  end)
end)

describe("schema.diff", function()
  it("reports added and removed tables, column and key changes", function()
    local a = schema.from_tables({
      {name = "t", columns = {col("id"), col("old"), col("amount", "integer")}, primary_key = {"id"}},
      {name = "gone", columns = {col("x")}},
    })
    local b = schema.from_tables({
      {name = "t", columns = {col("id"), col("amount", "bigint"), col("new")}, primary_key = {}},
      {name = "fresh", columns = {col("x")}},
    })
    local d = schema.diff(a, b)
    assert.same({"public.fresh"}, d.added)
    assert.same({"public.gone"}, d.removed)
    local ch = d.changed[1]
    assert.equal("public.t", ch.table)
    assert.same({"new"}, ch.added_columns)
    assert.same({"old"}, ch.removed_columns)
    assert.same({{name = "amount", from = {type = "integer"}, to = {type = "bigint"}}}, ch.changed_columns)
    assert.same({from = {"id"}, to = {}}, ch.primary_key)
  end)
end)

describe("schema.open without a source", function()
  it("says how to give a schema", function()
    local S, err = schema.open({db = false, schema = false})
    if os.getenv("PGHOST") or os.getenv("PGDATABASE") or os.getenv("PGSERVICE") or os.getenv("DATABASE_URL") then
      return -- the environment names a database; nothing to pin here
    end
    assert.is_nil(S)
    assert.matches("no schema: give a snapshot with %-%-schema FILE, or a database with %-%-db", err)
  end)
end)

-- ------------------------------------------------------------------ live

local sh = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua").sh

if not (os.getenv("TEST_TMP") and os.execute(HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")) then
  describe("live schema", function() pending("no PostgreSQL server binaries") end)
  return
end

describe("live schema through the cache", function()
  local real, sock, link, conninfo, cache
  local n = 0

  -- The database is reached through a symlinked socket directory, so a test can
  -- "take the server down" for the same connection identity by repointing the link.
  local function server(up)
    os.remove(link)
    assert(os.execute(("ln -s %s %s"):format(up and sock or (TMP .. "/empty-sockdir"), link)))
  end

  local function cfg(extra)
    local c = {db = conninfo, schema_ttl = 1800, cache = {dir = cache}}
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
  end

  before_each(function()
    n = n + 1
    real = sh(HOME .. "/tests/lib/pg.sh db awkward " .. HOME .. "/tests/sql/awkward.sql")
    sock = real:match("host=(%S+)")
    os.execute("mkdir -p " .. TMP .. "/empty-sockdir")
    link = ("%s/sock-link-%d"):format(TMP, n)
    server(true)
    conninfo = real:gsub("host=%S+", "host=" .. link)
    cache = ("%s/schema-cache-%d"):format(TMP, n)
    util.remove_tree(cache)
  end)

  after_each(function() os.remove(link) end)

  it("reads the catalog once and serves a second open from disk without the database", function()
    local S1 = assert(schema.open(cfg()))
    assert.is_nil(S1.cached)
    S1:close()
    server(false)
    local S2 = assert(schema.open(cfg()))
    assert.is_true(S2.cached)
    local t = assert(S2:table('sales."Order Items"'))
    assert.same({"OrderID", "LineNo"}, t.primary_key)
    assert.is_nil(S2._conn)
  end)

  it("caches foreign keys per table once fetched", function()
    local S1 = assert(schema.open(cfg()))
    assert.equal(2, #assert(S1:foreign_keys("customers")).incoming)
    S1:close()
    server(false)
    local S2 = assert(schema.open(cfg()))
    assert.equal(2, #assert(S2:foreign_keys("customers")).incoming)
  end)

  it("refuses a stale snapshot when the database is down, naming --allow-stale", function()
    assert(schema.open(cfg())):close()
    server(false)
    local S, err = schema.open(cfg({refresh = true}))
    assert.is_nil(S)
    assert.matches("cannot connect to PostgreSQL", err)
    assert.matches("a cached schema snapshot from .* exists; %-%-allow%-stale would use it", err)
  end)

  it("uses an expired snapshot with allow_stale when the database is down", function()
    assert(schema.open(cfg())):close()
    server(false)
    local S = assert(schema.open(cfg({schema_ttl = 0, allow_stale = true})))
    assert.is_true(S.stale)
    assert.is_table(S:table("customers"))
  end)

  it("reads again after the TTL when the database is up", function()
    assert(schema.open(cfg())):close()
    local S = assert(schema.open(cfg({schema_ttl = 0})))
    assert.is_nil(S.cached)
    S:close()
  end)

  it("resolves an injection-shaped name as data and rejects unknown ones cleanly", function()
    local S = assert(schema.open(cfg()))
    local t = assert(S:table("x'; DROP TABLE y; --"))
    assert.equal("y", assert(S:foreign_keys(t)).outgoing[1].ref_table)
    local missing, err = S:table("z'; DROP TABLE customers; --")
    assert.is_nil(missing)
    assert.matches("^no table 'z'; DROP TABLE customers; %-%-' in the schema", err)
    S:close()
    local again = assert(schema.open(cfg({refresh = true})))
    assert.is_table(again:table("customers"))
    again:close()
  end)

  it("restricts to the schemas asked for, cached separately", function()
    local S = assert(schema.open(cfg({schemas = {"Audit Log"}})))
    assert.equal(1, #S:tables())
    S:close()
    local all = assert(schema.open(cfg()))
    assert.is_true(#all:tables() > 1)
    all:close()
  end)

  it("gives partitioned-read statistics for a big integer key", function()
    local S = assert(schema.open(cfg()))
    local st = assert(S:stats("customers"))
    assert.equal("customer_id", st.partition_column)
    assert.equal(1, st.lower)
    assert.equal(2000, st.upper)
    S:close()
  end)
end)

-- The sparkgen.pg primitive against a real, throwaway PostgreSQL server
-- (tests/lib/pg.sh): the catalog's shape, foreign keys, statistics, read-only sessions,
-- parameters-only names, and connection failures as one clean line.
local pg = require "sparkgen.pg"
local util = require "sparkgen.util"

local HOME = os.getenv("SPARKGEN_HOME") or "."
local testlib = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local PAGILA = testlib.PAGILA

local sh = testlib.sh

local function available()
  return os.getenv("TEST_TMP") and os.execute(HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")
end

-- conninfo for a test database, created (and loaded) once per test run.
local function db(name, ...)
  local files = {}
  for i, f in ipairs({...}) do files[i] = "'" .. f .. "'" end
  return sh(("%s/tests/lib/pg.sh db %s %s"):format(HOME, name, table.concat(files, " ")))
end

local function by_name(tables)
  local map = {}
  for _, t in ipairs(tables) do map[t.schema .. "." .. t.name] = t end
  return map
end

local function column(t, name)
  for _, c in ipairs(t.columns) do if c.name == name then return c end end
end

-- Every column default and generation expression of the database at conninfo ci, as
-- PostgreSQL prints it with its table (pg_get_expr(adbin, adrelid)), by
-- "schema.table.column"; catalog() must report exactly these.
local function defaults_as_printed(ci)
  local sql = "SELECT json_object_agg(n.nspname || '.' || c.relname || '.' || a.attname, "
    .. "pg_get_expr(d.adbin, d.adrelid)) FROM pg_attrdef d "
    .. "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum AND NOT a.attisdropped "
    .. "JOIN pg_class c ON c.oid = d.adrelid AND NOT c.relispartition "
    .. "JOIN pg_namespace n ON n.oid = c.relnamespace"
  local out = assert(sh(("psql -X -A -t %s -c %s"):format(util.shell_quote(ci), util.shell_quote(sql))))
  return assert(require("cjson").decode(out))
end

local function catalog_defaults(tables)
  local got = {}
  for _, t in pairs(tables) do
    for _, c in ipairs(t.columns) do
      if c.default then got[t.schema .. "." .. t.name .. "." .. c.name] = c.default end
    end
  end
  return got
end

if not available() then
  describe("sparkgen.pg", function()
    pending("PostgreSQL server binaries are not installed (apt-get install postgresql)")
  end)
  return
end

local AWKWARD = db("awkward", HOME .. "/tests/sql/awkward.sql")

describe("sparkgen.pg catalog (awkward schema)", function()
  local conn, tables
  setup(function()
    conn = assert(pg.connect(AWKWARD))
    tables = by_name(assert(conn:catalog()))
  end)
  teardown(function() conn:close() end)

  it("keeps quoted mixed-case names, spaces and reserved words exactly", function()
    local t = tables['sales.Order Items']
    assert.is_table(t)
    assert.same({"OrderID", "LineNo", "select", "quantity", "unit_price", "line_total", "tags"},
      (function() local n = {} for i, c in ipairs(t.columns) do n[i] = c.name end return n end)())
    assert.is_table(tables["sales.user"])
    assert.is_table(tables["Audit Log.Events"])
  end)

  it("prints types as PostgreSQL does", function()
    local t = tables["sales.Order Items"]
    assert.equal("numeric(10,2)", column(t, "unit_price").type)
    assert.equal("text[]", column(t, "tags").type)
    assert.equal("character varying(120)", column(tables["public.customers"], "email").type)
    assert.equal("timestamp with time zone", column(tables["public.customers"], "created_at").type)
  end)

  it("reports nullability, defaults and generated columns", function()
    local c = tables["public.customers"]
    assert.is_false(column(c, "email").nullable)
    assert.is_true(column(c, "created_at").nullable)
    assert.equal("now()", column(c, "created_at").default)
    local g = column(tables["sales.Order Items"], "line_total")
    assert.is_true(g.generated)
    assert.is_nil(column(c, "email").generated)
  end)

  it("prints every default and generation expression as PostgreSQL does with its table", function()
    local want = defaults_as_printed(AWKWARD)
    assert.equal("((quantity)::numeric * unit_price)", want["sales.Order Items.line_total"])
    assert.same(want, catalog_defaults(tables))
  end)

  it("reads table and column comments", function()
    assert.equal("People who buy things", tables["public.customers"].comment)
    assert.equal("Lower-cased on insert", column(tables["public.customers"], "email").comment)
    assert.is_nil(tables["sales.customers"].comment)
  end)

  it("gives composite primary keys in key order and none when there is no key", function()
    assert.same({"OrderID", "LineNo"}, tables["sales.Order Items"].primary_key)
    assert.same({}, tables["Audit Log.Events"].primary_key)
  end)

  it("names each kind and folds partitions into their parent", function()
    assert.equal("view", tables["sales.big_lines"].kind)
    assert.equal("materialized_view", tables["sales.order_totals"].kind)
    assert.equal("partitioned_table", tables["public.events"].kind)
    assert.is_nil(tables["public.events_2025"])
    assert.equal(3000, tables["public.events"].rows)
  end)

  it("lists the tables by schema then name, in byte order", function()
    local list = assert(conn:catalog())
    for i = 2, #list do
      local a, b = list[i - 1], list[i]
      assert.truthy(a.schema < b.schema or (a.schema == b.schema and a.name < b.name),
        ("%s.%s before %s.%s"):format(a.schema, a.name, b.schema, b.name))
    end
  end)

  it("says a view's row count is unknown rather than -1", function()
    assert.is_nil(tables["sales.big_lines"].rows)
  end)

  it("restricts to the schemas asked for", function()
    local only = assert(conn:catalog({"Audit Log"}))
    assert.equal(1, #only)
    assert.equal("Events", only[1].name)
    assert.same({}, assert(conn:catalog({'no"such\\schema'})))
  end)
end)

describe("sparkgen.pg foreign keys", function()
  local conn
  setup(function() conn = assert(pg.connect(AWKWARD)) end)
  teardown(function() conn:close() end)

  it("keeps a composite key as one relationship with its columns in order", function()
    local rel = assert(conn:foreign_keys("sales", "shipments"))
    local composite
    for _, fk in ipairs(rel.outgoing) do if #fk.columns == 2 then composite = fk end end
    assert.same({"order_id", "line_no"}, composite.columns)
    assert.same({"OrderID", "LineNo"}, composite.ref_columns)
    assert.equal("Order Items", composite.ref_table)
  end)

  it("reports the incoming direction with the referencing table", function()
    local rel = assert(conn:foreign_keys("sales", "Order Items"))
    assert.equal(1, #rel.incoming)
    assert.equal("shipments", rel.incoming[1].table)
    assert.equal("sales", rel.incoming[1].schema)
  end)

  it("reports keys declared only on partitions once, on the parent", function()
    local rel = assert(conn:foreign_keys("public", "events"))
    assert.equal(1, #rel.outgoing)
    assert.equal("customers", rel.outgoing[1].ref_table)
    local incoming = assert(conn:foreign_keys("public", "customers")).incoming
    local from_events = 0
    for _, fk in ipairs(incoming) do if fk.table == "events" then from_events = from_events + 1 end end
    assert.equal(1, from_events)
  end)

  it("looks an injection-shaped table name up as a parameter", function()
    local rel = assert(conn:foreign_keys("public", "x'; DROP TABLE y; --"))
    assert.equal("y", rel.outgoing[1].ref_table)
    local ok, msg = conn:foreign_keys("public", "y'; DROP TABLE customers; --")
    assert.is_nil(ok)
    assert.equal("no table public.y'; DROP TABLE customers; --", msg)
    assert.is_table(by_name(conn:catalog())["public.y"])
    assert.is_table(by_name(conn:catalog())["public.customers"])
  end)

  it("says a missing table is missing", function()
    local ok, msg = conn:foreign_keys("public", "nope")
    assert.is_nil(ok)
    assert.equal("no table public.nope", msg)
  end)
end)

describe("sparkgen.pg catalog rows in any order", function()
  -- The catalog query has no ORDER BY. A column whose catalog row was rewritten (SET
  -- NOT NULL) lies after the later columns in pg_attribute, here after another table's,
  -- and with index scans off the server sends the rows in that order; the tables still
  -- come whole, their columns in position order.
  local OPTS = "-c enable_indexscan=off -c enable_bitmapscan=off -c max_parallel_workers_per_gather=0"
  local ci
  setup(function()
    ci = db("reordered")
    assert(sh(("psql -X -q %s -c %s"):format(util.shell_quote(ci), util.shell_quote(
      "CREATE TABLE IF NOT EXISTS moved (a int, b text, c date); CREATE TABLE IF NOT EXISTS other (x int); "
      .. "ALTER TABLE moved ALTER COLUMN a SET NOT NULL"))))
  end)

  it("puts each table's columns in position order", function()
    -- The premise: the server sends moved's columns out of order under these options.
    local out = assert(sh(("PGOPTIONS=%s psql -X -A -t -F , %s -c %s"):format(util.shell_quote(OPTS),
      util.shell_quote(ci), util.shell_quote("PREPARE q(text[]) AS " .. pg.CATALOG_SQL .. "; EXECUTE q(NULL)"))))
    local sent, runs = {}, {}
    for line in out:gmatch("[^\n]+") do
      local f = {}
      for v in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
      if f[3] == "moved" then sent[#sent + 1] = tonumber(f[8]) end
      if runs[#runs] ~= f[3] then runs[#runs + 1] = f[3] end
    end
    assert.equal(3, #sent)
    assert.are_not.same({1, 2, 3}, sent)
    assert.same({"moved", "other", "moved"}, runs)

    local conn <close> = assert(pg.connect(ci .. " options='" .. OPTS .. "'"))
    local list = assert(conn:catalog())
    assert.equal(2, #list)
    local t = by_name(list)["public.moved"]
    local got = {}
    for i, c in ipairs(t.columns) do got[i] = c.position .. c.name end
    assert.same({"1a", "2b", "3c"}, got)
    assert.is_false(t.columns[1].nullable)
    assert.equal(1, #by_name(list)["public.other"].columns)
  end)

  it("hands each table to on_table when its rows stop coming, and once more if it changes", function()
    local conn <close> = assert(pg.connect(ci .. " options='" .. OPTS .. "'"))
    local seen = {}
    local list = assert(conn:catalog(nil, function(t)
      local cols = {}
      for i, c in ipairs(t.columns) do cols[i] = c.position .. c.name end
      seen[t.name] = seen[t.name] or {}
      table.insert(seen[t.name], cols)
    end))
    assert.equal(2, #list)
    local moved = seen.moved
    -- when other's rows began (two columns so far), then once at the end with its
    -- final columns: a table whose rows come apart is handed over at most twice
    assert.equal(2, #moved)
    assert.same({"2b", "3c"}, moved[1])
    assert.same({"1a", "2b", "3c"}, moved[2])
    assert.same({{"1x"}}, seen.other)
    local ok, err = pcall(conn.catalog, conn, nil, function() error("stop here") end)
    assert.is_false(ok)
    assert.matches("stop here", err)
    assert.equal(2, #assert(conn:catalog())) -- the connection is still usable
  end)
end)

describe("sparkgen.pg statistics", function()
  local conn
  setup(function() conn = assert(pg.connect(AWKWARD)) end)
  teardown(function() conn:close() end)

  it("gives integer key bounds from the pg_stats histogram", function()
    local st = assert(conn:stats("public", "customers"))
    assert.same({rows = 2000, partition_column = "customer_id", lower = 1, upper = 2000}, st)
  end)

  it("uses a named integer column of a partitioned table", function()
    local st = assert(conn:stats("public", "events", "event_id"))
    assert.equal("event_id", st.partition_column)
    assert.equal(3000, st.rows)
  end)

  it("gives no bounds without a single-column integer key", function()
    local st = assert(conn:stats("sales", "Order Items"))
    assert.is_nil(st.partition_column)
  end)
end)

describe("sparkgen.pg sessions", function()
  it("are read-only: a write fails with SQLSTATE 25006", function()
    local conn <close> = assert(pg.connect(AWKWARD))
    local ok, msg, state = conn:check_read_only()
    assert.is_true(ok)
    assert.equal("25006", state)
    assert.matches("read%-only transaction", msg)
  end)

  it("call themselves sparkgen whatever the connection string says", function()
    local conn <close> = assert(pg.connect(AWKWARD .. " application_name=impostor"))
    local names = sh(("psql -X -At '%s' -c \"SELECT string_agg(application_name, ',') FROM pg_stat_activity " ..
      "WHERE datname = 'awkward' AND application_name IN ('sparkgen', 'impostor')\""):format(AWKWARD))
    assert.matches("sparkgen", names)
    assert.not_matches("impostor", names)
  end)

  it("run the catalog without JIT and with room to sort it in memory, unless the user says otherwise", function()
    local conn <close> = assert(pg.connect(AWKWARD))
    assert.equal("off", conn:setting("jit"))
    assert.equal("64MB", conn:setting("work_mem"))
    local mine <close> = assert(pg.connect(AWKWARD .. " options='-c work_mem=8MB -c default_transaction_read_only=off'"))
    assert.equal("8MB", mine:setting("work_mem"))                   -- tuning: the user's wins
    assert.equal("on", mine:setting("default_transaction_read_only")) -- safety: ours wins
    local _, err = conn:setting("no_such_setting")
    assert.matches('unrecognized configuration parameter "no_such_setting"', err)
  end)

  it("raise when used after close", function()
    local conn = assert(pg.connect(AWKWARD))
    conn:close()
    assert.has_error(function() conn:catalog() end, "attempt to use a closed PostgreSQL connection")
  end)

  it("report the host, database and user tried for an unknown database, on one line", function()
    local ok, msg = pg.connect((AWKWARD:gsub("dbname=%S+", "dbname=no_such_db")))
    assert.is_nil(ok)
    assert.matches("dbname=no_such_db user=postgres%)", msg)
    assert.matches('database "no_such_db" does not exist', msg)
    assert.not_matches("\n", msg)
  end)

  it("never show the password of a failed connection", function()
    local ok, msg = pg.connect("host=" .. os.getenv("TEST_TMP") .. "/nowhere dbname=x user=u password=Sekr3tPw")
    assert.is_nil(ok)
    assert.not_matches("Sekr3tPw", msg)
    assert.matches("cannot connect to PostgreSQL", msg)
  end)

  it("reject a wrong password without echoing it", function()
    assert(os.execute(HOME .. "/tests/lib/pg.sh role sparkgen_pw RightPw1 >/dev/null"))
    local base = (AWKWARD:gsub("user=%S+", "user=sparkgen_pw"))
    local ok, msg = pg.connect(base .. " password=WrongPw9")
    assert.is_nil(ok)
    assert.matches('password authentication failed for user "sparkgen_pw"', msg)
    assert.not_matches("WrongPw9", msg)
    local conn = assert(pg.connect(base .. " password=RightPw1"))
    conn:close()
  end)

  it("resolve identity from a URI without connecting", function()
    assert.same({host = "db.example", port = "6543", dbname = "shop", user = "bob"},
      pg.identity("postgresql://bob:pw@db.example:6543/shop"))
  end)

  for _, case in ipairs({
    {"postgresql://analyst:My%Pass@/shop", "My%Pass"},
    {'postgresql://analyst:My%Pa"ss@/shop', 'Pa"ss'},
    {"host=x password=abc Secr3tTail", "Secr3tTail"},
    {"postgresql://u:Sekr3t@[::1/db", "Sekr3t"},
    {"postgresql://u:S3cr%zzet@h/db", "S3cr"},
    {"postgresql://u:%00Secr3t@h/db", "Secr3t"},
  }) do
    it("never echo a value of a malformed string: " .. case[1], function()
      for _, f in ipairs({pg.connect, pg.identity, pg.resolve}) do
        local ok, msg = f(case[1])
        assert.is_nil(ok)
        assert.matches("^invalid PostgreSQL connection string: ", msg)
        assert.not_matches(case[2], msg, 1, true)
      end
    end)
  end

  it("still name a misspelt option in a malformed string", function()
    local _, msg = pg.connect("host=x pasword=Secr3t")
    assert.equal('invalid PostgreSQL connection string: invalid connection option "pasword"', msg)
  end)

  it("reject a malformed connection string before connecting", function()
    local ok, msg = pg.connect("postgresql://u@h/db?x=%zz")
    assert.is_nil(ok)
    assert.matches("invalid PostgreSQL connection string", msg)
  end)
end)

describe("sparkgen.pg session options and notices", function()
  it("stay read-only under a long PGOPTIONS-style options string (no truncation)", function()
    local long = ("-c work_mem=4MB "):rep(150) -- 2,400 bytes: past the old 1 KiB buffer
    local conn <close> = assert(pg.connect(AWKWARD .. " options='" .. long .. "'"))
    local ok, msg = conn:check_read_only()
    assert.is_true(ok, msg)
  end)

  it("hand server notices to on_notice as single lines after the call", function()
    local seen = {}
    local conn <close> = assert(pg.connect(AWKWARD .. " options='-c client_min_messages=debug5'",
      {on_notice = function(m) seen[#seen + 1] = m end}))
    local before = #seen
    assert.is_true(#conn:catalog() > 0)
    assert.is_true(#seen > before)
    for _, m in ipairs(seen) do
      assert.matches("^DEBUG: ", m)
      assert.not_matches("\n", m)
    end
  end)
end)

describe("sparkgen.pg on pagila", function()
  local conn, tables, ci
  setup(function()
    ci = db("pagila", PAGILA .. "/pagila-schema.sql", PAGILA .. "/pagila-data.sql")
    conn = assert(pg.connect(ci))
    tables = by_name(assert(conn:catalog()))
  end)
  teardown(function() conn:close() end)

  it("shows payment once, as a partitioned table with its composite key", function()
    assert.equal("partitioned_table", tables["public.payment"].kind)
    assert.is_nil(tables["public.payment_p2022_01"])
    assert.same({"payment_date", "payment_id"}, tables["public.payment"].primary_key)
  end)

  it("prints every default as PostgreSQL does with its table", function()
    local want = defaults_as_printed(ci)
    assert.equal("nextval('actor_actor_id_seq'::regclass)", want["public.actor.actor_id"])
    assert.same(want, catalog_defaults(tables))
  end)

  it("keeps enum and domain type names", function()
    assert.equal("mpaa_rating", column(tables["public.film"], "rating").type)
    assert.equal("year", column(tables["public.film"], "release_year").type)
  end)

  it("lists views and the materialized view", function()
    assert.equal("view", tables["public.actor_info"].kind)
    assert.equal("materialized_view", tables["public.rental_by_category"].kind)
  end)

  it("puts payment's per-partition foreign keys on payment, once each", function()
    local rel = assert(conn:foreign_keys("public", "payment"))
    local refs = {}
    for _, fk in ipairs(rel.outgoing) do refs[#refs + 1] = fk.ref_table end
    table.sort(refs)
    assert.same({"customer", "rental", "staff"}, refs)
    local incoming = assert(conn:foreign_keys("public", "rental")).incoming
    local from_payment = 0
    for _, fk in ipairs(incoming) do if fk.table == "payment" then from_payment = from_payment + 1 end end
    assert.equal(1, from_payment)
  end)

  it("reads every foreign key in one call, folded the same way", function()
    local all = assert(conn:all_foreign_keys())
    local payment = 0
    for _, fk in ipairs(all) do
      if fk.table == "payment" then payment = payment + 1 end
      assert.not_matches("^payment_p", fk.table)
    end
    assert.equal(3, payment)
    assert.same({}, assert(conn:all_foreign_keys({"no_such_schema"})))
  end)
end)

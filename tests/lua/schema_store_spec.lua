-- schema_store_spec.lua — a request costs the same on a big catalog as on a small one:
-- preparing a request against a cached 10,000-table snapshot (whose tables' foreign
-- keys an earlier request fetched) reads only the files, and the bytes of the data
-- file, that the request needs, and never the database.
local config = require "sparkgen.config"
local generator = require "sparkgen.generator"
local schema = require "sparkgen.schema"
local store = require "sparkgen.schema_store"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local TMP = os.getenv("TEST_TMP") or "/tmp"
local N = 10000

-- N tables of 20 columns in normal form, s1..s5.t1..tN, no foreign keys.
local function synthetic(n)
  local tables = {}
  for i = 1, n do
    local cols = {}
    for c = 1, 20 do
      cols[c] = {name = c == 1 and "id" or ("col_%d"):format(c), position = c,
                 type = c == 1 and "integer" or "text", nullable = c ~= 1}
    end
    tables[i] = {schema = ("s%d"):format(1 + i % 5), name = ("t%d"):format(i), kind = "table",
                 rows = 100, columns = cols, primary_key = {"id"}}
  end
  return tables
end

-- Every file opened (through io.open or util.read_file) and the bytes read from each.
local function recording(fn)
  local opened, bytes = {}, {}
  local real_open, real_read = io.open, util.read_file
  local function note(path, n)
    local base = path:match("([^/]+/[^/]+)$") or path
    opened[#opened + 1] = base
    bytes[base] = (bytes[base] or 0) + n
  end
  io.open = function(path, mode)
    local f, err = real_open(path, mode)
    if not f or (mode and mode:find("w")) then return f, err end
    local proxy = {}
    function proxy.read(_, ...) local s = f:read(...) note(path, s and #s or 0) return s end
    function proxy.seek(_, ...) return f:seek(...) end
    function proxy.lines(_, ...) return f:lines(...) end
    function proxy.close() return f:close() end
    return proxy
  end
  util.read_file = function(path, ...)
    local s, err = real_read(path, ...)
    if s then note(path, #s) end
    return s, err
  end
  local ok, a, b = pcall(fn)
  io.open, util.read_file = real_open, real_read
  assert(ok, a)
  return opened, bytes, a, b
end

describe("a prepared request on a 10,000-table cached snapshot", function()
  local cfg, dir
  setup(function()
    cfg = assert(config.load{files = {}})
    cfg.cache.dir = ("%s/store-spec-%d-%d"):format(TMP, sys.getpid(), math.random(1, 1 << 30))
    -- A database that cannot be reached: the snapshot must be enough.
    cfg.db = "host=" .. TMP .. "/no-such-socket-dir dbname=big user=analyst"
    local identity = assert(require("sparkgen.pg").identity(cfg.db))
    local key
    dir, key = store.locate(cfg, identity, nil)
    local st = assert(store.write(dir, key, {kind = "postgres", database = "big"}, synthetic(N), sys.now()))
    -- What earlier requests left behind: foreign keys are fetched per table on demand
    -- (reading them all would add half again to a cold snapshot) and then cached.
    for _, t in ipairs({{schema = "s1", name = "t5000"}, {schema = "s3", name = "t4242"}}) do
      st:side_put("f", t, {outgoing = {}, incoming = {}})
    end
  end)
  teardown(function() util.remove_tree(cfg.cache.dir) end)

  it("reads its tables' buckets and records, one bucket per word, never the whole catalog", function()
    local pg = require "sparkgen.pg"
    local connects, real_connect = 0, pg.connect
    pg.connect = function(...) connects = connects + 1 return real_connect(...) end
    local opened, bytes, prep = recording(function()
      return assert(generator.prepare({source = "s1.t5000", type = "rows of t4242 per week"}, cfg))
    end)
    pg.connect = real_connect
    assert.equal(0, connects)
    local names = {}
    for _, t in ipairs(prep.tables) do names[#names + 1] = t.schema .. "." .. t.name end
    assert.same({"s1.t5000", "s3.t4242"}, names)
    assert.equal(20, #prep.tables[2].columns)

    -- every read of the bucket file is one bucket (a bucket read once is kept)
    local buckets = 0
    for _, f in ipairs(opened) do
      assert.is_nil(f:find("index.json", 1, true), "the full index was read")
      if f:match("/buckets%.json$") then buckets = buckets + 1 end
    end
    local total_buckets = require("cjson").decode(util.read_file(dir .. "/meta.json")).buckets
    assert.truthy(total_buckets >= 256, total_buckets)
    -- the source's, the matched table's, and one per word of the request (row(s),
    -- t4242(s), per(s), week(s): words of 3 letters or more, singular and plural)
    assert.truthy(buckets >= 2 and buckets <= 10, ("%d of %d buckets read"):format(buckets, total_buckets))
    assert.truthy(bytes[dir:match("[^/]+$") .. "/buckets.json"] < 16384, "more than 10 buckets' bytes read")
    local data_size = sys.stat(dir .. "/tables.json").size
    local read = 0
    for f, n in pairs(bytes) do if f:match("tables%.json$") then read = read + n end end
    -- two records of about 1.5 KB each, out of 15 MB
    assert.truthy(read > 0 and read < 8192, ("%d of %d bytes of records read"):format(read, data_size))
  end)

  it("finds a table by a word of its name, and nothing for a word no name has", function()
    local S = assert(schema.open(cfg))
    local hits = S:_word_candidates({t77 = true})
    assert.same({{schema = "s3", name = "t77"}}, hits)
    assert.same({}, S:_word_candidates({refunds = true}))
  end)
end)

describe("writing a snapshot table by table", function()
  local base
  before_each(function()
    base = ("%s/store-writer-%d-%d"):format(TMP, sys.getpid(), math.random(1, 1 << 30))
  end)
  after_each(function() util.remove_tree(base) end)

  it("keeps the last record added for a table", function()
    local tables = synthetic(3)
    local w = assert(store.writer(base .. "/snap", "k"))
    for _, t in ipairs(tables) do w:add(t) end
    tables[2].columns[2].name = "renamed"
    w:add(tables[2])
    assert(w:finish({kind = "postgres"}, tables, sys.now()))
    local st = assert(store.open(base .. "/snap", "k"))
    assert.equal("renamed", assert(st:named("t2"))[1].columns[2].name)
    assert.equal("col_2", assert(st:named("t1"))[1].columns[2].name)
  end)

  it("lists tables of one name, and of one word, in catalog order whatever order they came in", function()
    local tables = synthetic(2)
    tables[1].schema, tables[1].name = "a", "orders"
    tables[2].schema, tables[2].name = "b", "orders"
    local w = assert(store.writer(base .. "/snap", "k"))
    w:add(tables[2])
    w:add(tables[1])
    assert(w:finish({kind = "postgres"}, tables, sys.now()))
    local st = assert(store.open(base .. "/snap", "k"))
    local named = assert(st:named("orders"))
    assert.same({"a", "b"}, {named[1].schema, named[2].schema})
    assert.same({{"a", "orders"}, {"b", "orders"}}, assert(st:word("orders")))
  end)

  it("refuses a catalog with a table never added, and leaves nothing behind", function()
    local tables = synthetic(3)
    local w = assert(store.writer(base .. "/snap", "k"))
    w:add(tables[1])
    w:add(tables[3])
    local st, err = w:finish({kind = "postgres"}, tables, sys.now())
    assert.is_nil(st)
    assert.equal("table s3.t2 was never added", err)
    assert.same({}, sys.listdir(base))
  end)
end)

describe("a cached snapshot's buckets", function()
  it("check the records of the name a lookup reads, and every record when the cache is checked", function()
    local dir = ("%s/store-bucket-%d-%d"):format(TMP, sys.getpid(), math.random(1, 1 << 30))
    local tables = synthetic(3)
    assert(store.write(dir, "k", {kind = "postgres", database = "small"}, tables, sys.now()))
    -- t2's record entry gets a number where its schema name belongs (same length, so
    -- every offset still holds): the JSON still decodes, the entry is damaged.
    local text = assert(util.read_file(dir .. "/buckets.json"))
    local damaged, n = text:gsub('"t2":%[%["(s%d)",(%d)', function(s, d) return '"t2":[[' .. ("9"):rep(#s + 2) .. "," .. d end)
    assert.equal(1, n)
    assert(util.write_file(dir .. "/buckets.json", damaged))
    local st = assert(store.open(dir, "k"))
    assert.equal(1, #assert(st:named("t1")))
    local list, err = st:named("t2")
    assert.is_nil(list)
    assert.matches("record 1 of t2 is not %[schema, offset, length%]", err)
    local meta, cerr = store.check_cache_dir(dir)
    assert.is_nil(meta)
    assert.matches("record 1 of t2 is not %[schema, offset, length%]", cerr)
    util.remove_tree(dir)
  end)
end)

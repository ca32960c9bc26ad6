-- harden_spec.lua — nothing sparkgen reads is trusted and no output is silently lost:
-- devices and FIFOs where files are expected, damaged cache entries, a full disk on
-- stdout and symbolic links where a file is written. Each is one line and a status.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local SHOP = cli.SHOP

local gen = cli.generate
local tmp = cli.temp_home()  -- a fresh directory for each test

-- Every file under dir (find -type f / -type p), sorted.
local function files_under(dir)
  local out = {}
  local p = io.popen("find " .. cli.quote(dir) .. " \\( -type f -o -type p \\) | sort")
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

describe("reads that are not regular files", function()
  it("--schema /dev/zero is one line, at once", function()
    local r = cli.run({"schema", "--schema", "/dev/zero"}, {timeout = 20})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("^sparkgen: .*/dev/zero: not a regular file %(a character device%)\n$", r.stderr)
  end)

  it("batch /dev/zero is one line, at once", function()
    local r = cli.run({"batch", "/dev/zero", "--schema", SHOP}, {timeout = 20})
    assert.equal(1, r.status)
    assert.equal("sparkgen: cannot read batch file /dev/zero: not a regular file (a character device)\n", r.stderr)
  end)

  for _, case in ipairs({
    {"a FIFO given as --schema does not wait for a writer", {"schema", "--schema"},
     "not a regular file %(a FIFO%)\n$"},
    {"a FIFO given to run --trusted as the recipe does not wait for a writer", {"run", "--trusted"},
     "^sparkgen: .*/fifo: not a regular file %(a FIFO%)\n$"},
  }) do
    it(case[1], function()
      local fifo = tmp.dir .. "/fifo"
      assert(os.execute("mkfifo " .. cli.quote(fifo)))
      local r = cli.run({case[2][1], case[2][2], fifo}, {timeout = 20})
      assert.equal(1, r.status)
      assert.matches(case[3], r.stderr)
    end)
  end

  it("a FIFO in place of a cache entry does not block generate", function()
    local home = tmp.dir
    local env = {XDG_CACHE_HOME = home}
    assert.equal(0, gen({}, {env = env}).status)
    local entries = files_under(home .. "/sparkgen/facts")
    assert.is_true(#entries >= 1, "no facts entry was written")
    for _, path in ipairs(entries) do
      if not path:match("/tally$") then
        os.remove(path)
        assert(os.execute("mkfifo " .. cli.quote(path)))
      end
    end
    local r = gen({}, {env = env, timeout = 30})
    assert.equal(0, r.status)
    assert.matches("result_df", r.stdout)
  end)
end)

describe("writes", function()
  it("generate to a full disk is one line and status 1", function()
    local r = gen({}, {stdout_to = "/dev/full"})
    assert.equal(1, r.status)
    assert.equal("sparkgen: cannot write to standard output: No space left on device\n", r.stderr)
  end)

  it("--version to a full disk is status 1", function()
    local r = cli.run({"--version"}, {stdout_to = "/dev/full"})
    assert.equal(1, r.status)
    assert.equal("sparkgen: cannot write to standard output: No space left on device\n", r.stderr)
  end)

  it("--job refuses to replace a symbolic link and leaves its target alone", function()
    local dir = tmp.dir
    cli.write(dir .. "/target.py", "precious\n")
    assert(os.execute(("ln -s %s/target.py %s/job.py"):format(dir, dir)))
    local r = gen({"--job", dir .. "/job.py"})
    local target = cli.slurp(dir .. "/target.py")
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("job%.py: not replacing a symbolic link with a file", r.stderr)
    assert.equal("precious\n", target)
  end)
end)

describe("code size before review", function()
  it("a 4 MB body is refused in a moment, before the analyser runs", function()
    local dir = tmp.dir
    cli.write(dir .. "/big.py", ("result_df = read_table('orders')  # padding\n"):rep(100000))
    local r = cli.run({"lint", dir .. "/big.py", "--schema", SHOP}, {timeout = 5})
    assert.equal(1, r.status)
    assert.equal("sparkgen: the code is 4400000 bytes, more than the 256 KiB sparkgen reviews\n", r.stderr)
  end)
end)

describe("secrets and server messages", function()
  for _, db in ipairs({"postgresql://analyst:My%Pass@/shop", "postgresql://analyst:My%Pa'ss@/shop",
                       "host=/nowhere password=abc Tail%Pass"}) do
    it("--db " .. db .. " fails without echoing the password", function()
      local r = cli.run({"schema", "--db", db})
      assert.equal(1, r.status)
      assert.equal(1, cli.lines(r.stderr))
      assert.not_matches("Pass", r.stderr)
      assert.not_matches("Pa'ss", r.stderr, 1, true)
    end)
  end

  local have_pg = os.getenv("TEST_TMP") and os.execute(cli.HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")
  local it_pg = have_pg and it or pending
  it_pg("server notices go to the structured log, never raw to stderr", function()
    local conninfo = cli.sh(cli.HOME .. "/tests/lib/pg.sh db awkward " .. cli.HOME .. "/tests/sql/awkward.sql")
    local db = conninfo .. " options='-c client_min_messages=debug5'"
    local r = cli.run({"schema", "--refresh", "--db", db})
    assert.equal(0, r.status)
    assert.equal("", r.stderr)
    r = cli.run({"schema", "--refresh", "--db", db, "--log-level", "debug", "--log-format", "json"})
    assert.equal(0, r.status)
    assert.matches('"op":"pg.notice"', r.stderr)
    for line in r.stderr:gmatch("[^\n]+") do assert.matches("^{", line) end
  end)
end)

describe("sparkgen cache (every kind, counted)", function()
  local cjson = require "cjson.safe"
  local function stats(env)
    local r = cli.run({"cache", "stats", "--json"}, {env = env})
    assert.equal(0, r.status, r.stderr)
    local by = {}
    for _, c in ipairs(cjson.decode(r.stdout).caches) do by[c.name] = c.stats end
    return by
  end

  it("counts hits and misses of every process, per kind, and clear starts them again", function()
    local home = tmp.dir
    local env = {XDG_CACHE_HOME = home}
    assert.equal(0, gen({}, {env = env}).status)   -- facts: a miss, then stored
    assert.equal(0, gen({}, {env = env}).status)   -- facts: a hit
    assert.equal(0, gen({}, {env = env}).status)
    local st = stats(env)
    assert.same({"facts", "responses", "schema"}, (function()
      local names = {}
      for k in pairs(st) do names[#names + 1] = k end
      table.sort(names)
      return names
    end)())
    assert.equal(2, st.facts.hits)
    assert.equal(1, st.facts.misses)
    assert.equal(1, st.facts.entries)
    local text = cli.run({"cache", "stats", "--which", "facts"}, {env = env}).stdout
    assert.matches("^facts +1 entries, .*2 hits, 1 miss ", text)
    assert.equal(0, cli.run({"cache", "clear"}, {env = env}).status)
    st = stats(env)
    assert.equal(0, st.facts.hits)
    assert.equal(0, st.facts.entries)
  end)

  it("counts a damaged facts entry and prune removes it", function()
    local home = tmp.dir
    local env = {XDG_CACHE_HOME = home}
    assert.equal(0, gen({}, {env = env}).status)
    for _, path in ipairs(files_under(home .. "/sparkgen/facts")) do
      if not path:match("/tally$") then cli.write(path, "SGCACHE\0garbage") end
    end
    local before = stats(env)
    local pruned = cli.run({"cache", "prune", "--which", "facts"}, {env = env})
    local after = stats(env)
    assert.equal(1, before.facts.broken)
    assert.matches("corrupt 1", pruned.stdout)
    assert.equal(0, after.facts.broken)
    assert.equal(0, after.facts.entries)
  end)

  it("counts a schema snapshot whose index is damaged as damaged, and prune removes it", function()
    local home = tmp.dir
    local env = {XDG_CACHE_HOME = home}
    local dir = home .. "/sparkgen/schema/0123456789abcdef0123456789abcdef"
    assert(os.execute("mkdir -p " .. cli.quote(dir .. "/t")))
    cli.write(dir .. "/meta.json", ('{"captured_epoch": %d, "source": {}, "buckets": 1, "bucket_at": "0000000000000000000000", "key": "k"}'):format(os.time()))
    cli.write(dir .. "/index.json", '{"tables": [1]}')
    local before = stats(env)
    assert.equal(0, cli.run({"cache", "prune", "--which", "schema"}, {env = env}).status)
    local after = stats(env)
    assert.equal(1, before.schema.broken)
    assert.equal(0, after.schema.entries)
  end)
end)

describe("damaged schema snapshots", function()
  it("a --schema file whose foreign_keys hold [1] is one line naming the field", function()
    local dir = tmp.dir
    local doc = require("cjson.safe").decode(cli.slurp(SHOP))
    doc.tables[1].foreign_keys = {1}
    cli.write(dir .. "/snap.json", require("cjson.safe").encode(doc))
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", dir .. "/snap.json"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("^sparkgen: schema snapshot .*snap%.json: table public%.%w+: foreign key #1: expected an object, got the number 1\n$", r.stderr)
  end)

  it("an unknown field in a --schema file is named with the closest known one", function()
    local dir = tmp.dir
    local doc = require("cjson.safe").decode(cli.slurp(SHOP))
    doc.tables[1].primary_keys = doc.tables[1].primary_key
    cli.write(dir .. "/snap.json", require("cjson.safe").encode(doc))
    local r = cli.run({"schema", "--schema", dir .. "/snap.json"})
    assert.equal(1, r.status)
    assert.matches("unknown field 'primary_keys' %(did you mean: primary_key%?%)\n$", r.stderr)
  end)

  local have_pg = os.getenv("TEST_TMP") and os.execute(cli.HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")
  local it_pg = have_pg and it or pending
  local conninfo = have_pg and cli.sh(cli.HOME .. "/tests/lib/pg.sh db awkward " .. cli.HOME .. "/tests/sql/awkward.sql")

  -- A cache holding one snapshot of the awkward database, reached through a socket
  -- link (removing the link makes the database unreachable); returns home, db, dir.
  local function cached_snapshot()
    local home = tmp.dir
    local link = home .. "/sock"
    assert(os.execute(("ln -s %s %s"):format(conninfo:match("host=(%S+)"), link)))
    local db = conninfo:gsub("host=%S+", "host=" .. link)
    local env = {XDG_CACHE_HOME = home}
    assert.equal(0, cli.run({"schema", "--db", db}, {env = env}).status)
    local snap
    for _, path in ipairs(files_under(home .. "/sparkgen/schema")) do
      if path:match("/index%.json$") then snap = path:match("^(.*)/index%.json$") end
    end
    assert.is_string(snap)
    return home, db, snap, env
  end

  for _, damage in ipairs({
    {"a truncated bucket file", function(snap)
      cli.write(snap .. "/buckets.json", cli.slurp(snap .. "/buckets.json"):sub(1, 40))
    end},
    {"a truncated index", function(snap) cli.write(snap .. "/index.json", '{"tables": [["pub') end},
    {"a truncated data file", function(snap)
      cli.write(snap .. "/tables.json", cli.slurp(snap .. "/tables.json"):sub(1, 100))
    end},
    {'an index of {"tables":[1]}', function(snap) cli.write(snap .. "/index.json", '{"tables":[1]}') end},
  }) do
    it_pg(damage[1] .. " is reported, dropped and rebuilt: the right answer, never 0 tables", function()
      local home, db, snap, env = cached_snapshot()
      damage[2](snap)
      local listing = cli.run({"schema", "--db", db}, {env = env})
      local again = cli.run({"schema", "--db", db}, {env = env})
      damage[2](snap)
      local one = cli.run({"schema", "customers", "--db", db}, {env = env})
      assert.equal(0, listing.status, listing.stderr)
      assert.matches("public%.customers", listing.stdout)
      assert.matches('"schema.cache"', listing.stderr)
      assert.matches("damaged: dropped and rebuilt", listing.stderr)
      assert.equal(0, one.status, one.stderr)
      assert.matches("customer_id", one.stdout)
      assert.equal(0, again.status)
      assert.equal("", again.stderr) -- rebuilt: clean from then on
    end)
  end

  it_pg("a damaged cache with the database out of reach is one line, status 1", function()
    local home, db, snap, env = cached_snapshot()
    cli.write(snap .. "/buckets.json", "{")
    os.remove(home .. "/sock")
    local r = cli.run({"schema", "customers", "--db", db, "--log-level", "off"}, {env = env})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("^sparkgen: the cached schema snapshot was damaged %(.*%) and could not be read again: cannot connect", r.stderr)
  end)
end)

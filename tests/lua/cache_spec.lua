-- cache_spec.lua — sparkgen.cache: hits and misses, TTL, damaged entries, LRU bounds
-- on disk and in memory, several handles on one directory, clear and prune.
local cache = require "sparkgen.cache"
local sys = require "sparkgen.sys"
local digest = require "sparkgen.digest"

local base = (os.getenv("TEST_TMP") or "/tmp") .. "/cache_spec." .. sys.getpid()
local serial = 0

-- A fresh directory per test, so tests cannot see each other's entries.
local function fresh_dir()
  serial = serial + 1
  return ("%s/%d"):format(base, serial)
end

local function key(n) return digest.sha256("key " .. tostring(n)) end

local function entry_file(dir, k) return ("%s/%s/%s"):format(dir, k:sub(1, 2), k:sub(3)) end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- Runs `n` sparkgen processes on the Lua script `text` at once, each with the
-- arguments dir and its number; true when every one exited 0.
local function run_workers(name, text, n, dir)
  sys.mkdir_p(base)
  local worker = base .. "/" .. name .. ".lua"
  write(worker, text)
  local bin = os.getenv("SPARKGEN") or "./sparkgen"
  local cmd = ("fail=0; pids=; for i in $(seq %d); do %s run --trusted %s %s $i & pids=\"$pids $!\"; done; " ..
               "for p in $pids; do wait $p || fail=1; done; exit $fail"):format(n, bin, worker, dir)
  return os.execute("bash -c '" .. cmd .. "'")
end

-- File timestamps come from a coarse kernel clock; space writes so LRU order is clear.
local function tick() sys.sleep(0.012) end

describe("sparkgen.cache", function()
  teardown(function() os.execute("rm -rf '" .. base .. "'") end)

  it("misses on an empty directory and counts the miss", function()
    local c = cache.open{dir = fresh_dir()}
    assert.is_nil(c:get(key(1)))
    assert.equal(1, c:stats().misses)
  end)

  it("returns a stored value from memory with its times", function()
    local c = cache.open{dir = fresh_dir()}
    local before = sys.now()
    assert.is_true(c:put(key(1), "value one", 60))
    local v, meta = c:get(key(1))
    assert.equal("value one", v)
    assert.equal("memory", meta.from)
    assert.is_true(meta.created >= before - 0.01 and meta.created <= sys.now() + 0.01)
    assert.is_true(math.abs(meta.expires - (meta.created + 60)) < 0.01)
    assert.equal(1, c:stats().hits)
  end)

  it("returns a value stored by another handle from disk", function()
    local dir = fresh_dir()
    cache.open{dir = dir}:put(key(1), "from disk")
    local v, meta = cache.open{dir = dir}:get(key(1))
    assert.equal("from disk", v)
    assert.equal("disk", meta.from)
    assert.is_nil(meta.expires)
  end)

  it("writes entries in the documented format: DIR/xx/rest, 64-byte header, then the value", function()
    local dir = fresh_dir()
    local k = key(1)
    cache.open{dir = dir}:put(k, "payload", 10)
    local data = read(entry_file(dir, k))
    assert.equal(64 + #"payload", #data)
    assert.equal("SGCACHE\0", data:sub(1, 8))
    local version, hsize, created, expires, length = string.unpack("<I4I4i8i8I8", data, 9)
    assert.same({1, 64, 7}, {version, hsize, length})
    assert.equal(10000, expires - created)
    assert.equal(k:sub(1, 32), (data:sub(49, 64):gsub(".", function(c) return ("%02x"):format(c:byte()) end)))
    assert.equal("payload", data:sub(65))
  end)

  it("round-trips binary values, empty ones included", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir}
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    c:put(key(1), table.concat(bytes))
    c:put(key(2), "")
    local other = cache.open{dir = dir}
    assert.equal(table.concat(bytes), other:get(key(1)))
    assert.equal("", other:get(key(2)))
  end)

  it("replaces a value put again under the same key", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir}
    c:put(key(1), "old")
    c:put(key(1), "new")
    assert.equal("new", c:get(key(1)))
    assert.equal("new", cache.open{dir = dir}:get(key(1)))
    assert.equal(1, c:stats().entries)
  end)

  it("forgets an entry after its TTL, in memory and on disk", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir}
    c:put(key(1), "short-lived", 0.05)
    sys.sleep(0.08)
    assert.is_nil(c:get(key(1)))
    assert.is_nil(cache.open{dir = dir}:get(key(1)))
    assert.is_nil(sys.stat(entry_file(dir, key(1))))
  end)

  it("drops an entry whose value was damaged and accepts a new one", function()
    local dir = fresh_dir()
    cache.open{dir = dir}:put(key(1), "precious bytes")
    local path = entry_file(dir, key(1))
    local data = read(path)
    write(path, data:sub(1, -2) .. "X")
    local c = cache.open{dir = dir}
    assert.is_nil(c:get(key(1)))
    assert.is_nil(sys.stat(path))
    assert.is_true(c:put(key(1), "precious bytes"))
    assert.equal("precious bytes", cache.open{dir = dir}:get(key(1)))
  end)

  it("drops a truncated entry", function()
    local dir = fresh_dir()
    cache.open{dir = dir}:put(key(1), ("x"):rep(1000))
    local path = entry_file(dir, key(1))
    write(path, read(path):sub(1, 500))
    assert.is_nil(cache.open{dir = dir}:get(key(1)))
    assert.is_nil(sys.stat(path))
  end)

  it("drops a file that is not an entry at all", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir}
    c:put(key(2), "anything") -- creates the directory layout
    sys.mkdir_p(dir .. "/" .. key(1):sub(1, 2))
    write(entry_file(dir, key(1)), "hello")
    assert.is_nil(c:get(key(1)))
    assert.is_nil(sys.stat(entry_file(dir, key(1))))
  end)

  it("rejects an entry copied under another key's name", function()
    local dir = fresh_dir()
    cache.open{dir = dir}:put(key(1), "one")
    sys.mkdir_p(dir .. "/" .. key(2):sub(1, 2))
    write(entry_file(dir, key(2)), read(entry_file(dir, key(1))))
    assert.is_nil(cache.open{dir = dir}:get(key(2)))
  end)

  it("treats an entry deleted by someone else as a miss", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir, lru_entries = 0}
    c:put(key(1), "gone soon")
    os.remove(entry_file(dir, key(1)))
    local v, err = c:get(key(1))
    assert.is_nil(v)
    assert.is_nil(err)
  end)

  it("raises for a key that is not 64 lowercase hex characters", function()
    local c = cache.open{dir = fresh_dir()}
    assert.has_error(function() c:get("abc") end)
    assert.has_error(function() c:get(key(1):upper()) end)
    assert.has_error(function() c:put(("g"):rep(64), "v") end)
    assert.has_error(function() c:get(nil) end)
  end)

  it("refuses a value larger than max_bytes", function()
    local c = cache.open{dir = fresh_dir(), max_bytes = 1000}
    local ok, err = c:put(key(1), ("x"):rep(2000))
    assert.is_nil(ok)
    assert.matches("larger than the cache", err)
  end)

  it("evicts the least recently used entries beyond max_entries", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir, max_entries = 10, lru_entries = 0}
    for i = 1, 10 do c:put(key(i), "v" .. i); tick() end
    assert.equal("v1", c:get(key(1))) -- a hit makes entry 1 the most recently used
    tick()
    c:put(key(11), "v11")
    -- over the bound: evicted down to 90% (9 entries), oldest first: 2 and 3
    assert.equal(9, c:stats().entries)
    assert.equal("v1", c:get(key(1)))
    assert.equal("v11", c:get(key(11)))
    assert.is_nil(c:get(key(2)))
    assert.is_nil(c:get(key(3)))
    assert.equal("v4", c:get(key(4)))
  end)

  it("keeps the directory under max_bytes", function()
    local c = cache.open{dir = fresh_dir(), max_bytes = 10 * (64 + 100), lru_entries = 0}
    for i = 1, 30 do c:put(key(i), ("b"):rep(100)) end
    local st = c:stats()
    assert.is_true(st.bytes <= 10 * 164, "bytes " .. st.bytes)
    assert.is_true(st.entries >= 8)
    assert.equal(("b"):rep(100), c:get(key(30)))
  end)

  it("keeps at most lru_entries values in memory", function()
    local c = cache.open{dir = fresh_dir(), lru_entries = 2}
    c:put(key(1), "a"); c:put(key(2), "b"); c:put(key(3), "c")
    assert.equal(2, c:stats().memory_entries)
    local _, m1 = c:get(key(1))
    assert.equal("disk", m1.from)
    local _, m3 = c:get(key(3))
    assert.equal("memory", m3.from)
  end)

  it("lets two handles share one directory", function()
    local dir = fresh_dir()
    local a, b = cache.open{dir = dir}, cache.open{dir = dir}
    a:put(key(1), "from a")
    b:put(key(2), "from b")
    assert.equal("from b", a:get(key(2)))
    assert.equal("from a", b:get(key(1)))
    assert.equal(2, a:stats().entries)
    assert.is_true(b:delete(key(1)))
    assert.is_false(b:delete(key(1)))
    assert.equal(1, b:stats().entries)
  end)

  it("clears every entry and reports how many", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir}
    for i = 1, 5 do c:put(key(i), "v") end
    assert.equal(5, c:clear())
    assert.is_nil(c:get(key(1)))
    local st = c:stats()
    assert.equal(0, st.entries)
    assert.equal(0, st.bytes)
    assert.equal(0, st.memory_entries)
  end)

  it("prunes expired and damaged entries", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir}
    c:put(key(1), "expiring", 0.02)
    c:put(key(2), "expiring", 0.02)
    c:put(key(3), "staying", 60)
    c:put(key(4), "damaged")
    local path = entry_file(dir, key(4))
    write(path, read(path):sub(1, 20))
    sys.sleep(0.05)
    local r = c:prune()
    assert.equal(2, r.expired)
    assert.equal(1, r.corrupt)
    assert.equal(0, r.evicted)
    assert.equal(1, c:stats().entries)
    assert.equal("staying", c:get(key(3)))
  end)

  it("prunes down to tighter bounds, least recently used first", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir}
    for i = 1, 6 do c:put(key(i), "v"); tick() end
    local small = cache.open{dir = dir, max_entries = 4, lru_entries = 0}
    assert.equal(2, small:prune().evicted)
    assert.is_nil(small:get(key(1)))
    assert.equal("v", small:get(key(6)))
  end)

  it("treats a FIFO in an entry's place as damaged: a miss at once, and removed", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir, lru_entries = 0}
    c:put(key(1), "v")
    local path = entry_file(dir, key(1))
    os.remove(path)
    assert(os.execute("mkfifo " .. path))
    local t0 = sys.monotonic()
    assert.is_nil(c:get(key(1)))
    assert.is_true(sys.monotonic() - t0 < 1)
    assert.is_nil(sys.lstat(path))
  end)

  it("treats a symbolic link in an entry's place as damaged", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir, lru_entries = 0}
    c:put(key(1), "v")
    c:put(key(2), "w")
    local path = entry_file(dir, key(1))
    os.remove(path)
    assert(os.execute(("ln -s %s %s"):format(entry_file(dir, key(2)), path)))
    assert.is_nil(c:get(key(1)))
    assert.is_nil(sys.lstat(path))
    assert.equal("w", c:get(key(2)))
  end)

  it("misses an entry larger than max_bytes without reading it", function()
    local dir = fresh_dir()
    cache.open{dir = dir}:put(key(1), ("x"):rep(5000))
    local small = cache.open{dir = dir, max_bytes = 1000, lru_entries = 0}
    assert.is_nil(small:get(key(1)))
    assert.equal(("x"):rep(5000), cache.open{dir = dir, lru_entries = 0}:get(key(1)))
  end)

  for _, ttl in ipairs({0 / 0, math.huge, 1e300}) do
    it("refuses a ttl of " .. tostring(ttl) .. " with a message instead of undefined behaviour", function()
      local c = cache.open{dir = fresh_dir()}
      local ok, err = c:put(key(1), "v", ttl)
      assert.is_nil(ok)
      assert.matches("ttl_s must be a finite number of seconds up to 1e10", err)
      assert.is_nil(c:get(key(1)))
    end)
  end

  it("counts damaged entries of every sort in stats, and prune removes them", function()
    local dir = fresh_dir()
    local c = cache.open{dir = dir, lru_entries = 0}
    for i = 1, 5 do c:put(key(i), "value " .. i) end
    local p2, p3, p4 = entry_file(dir, key(2)), entry_file(dir, key(3)), entry_file(dir, key(4))
    local data = read(p2)
    write(p2, data:sub(1, -2) .. "X")          -- a changed byte: only the checksum sees it
    os.remove(p3); assert(os.execute("mkfifo " .. p3))
    os.remove(p4); assert(os.execute(("ln -s /dev/zero %s"):format(p4)))
    local st = c:stats()
    assert.equal(3, st.corrupt)
    assert.equal(5, st.entries)
    local r = c:prune()
    assert.equal(3, r.corrupt)
    st = c:stats()
    assert.equal(0, st.corrupt)
    assert.equal(2, st.entries)
    assert.is_nil(sys.lstat(p3))
    assert.is_nil(sys.lstat(p4))
  end)

  it("keeps hits and misses across handles, and clear starts them again", function()
    local dir = fresh_dir()
    local a = cache.open{dir = dir}
    a:put(key(1), "v")
    a:get(key(1)); a:get(key(2)); a:get(key(3))
    a:close()
    local b = cache.open{dir = dir, lru_entries = 0}
    local st = b:stats()
    assert.equal(1, st.hits)
    assert.equal(2, st.misses)
    b:get(key(1))
    assert.equal(2, b:stats().hits)           -- this handle's count not yet written
    b:close()
    assert.same({hits = 2, misses = 2}, cache.tally(dir))
    local c = cache.open{dir = dir}
    c:clear()
    assert.same({hits = 0, misses = 0}, cache.tally(dir))
  end)

  it("reads a damaged tally as zero and rewrites it", function()
    local dir = fresh_dir()
    sys.mkdir_p(dir)
    assert.same({hits = 3, misses = 4}, cache.tally(dir, 3, 4))
    write(dir .. "/tally", "garbage")
    assert.same({hits = 0, misses = 0}, cache.tally(dir))
    assert.same({hits = 1, misses = 0}, cache.tally(dir, 1, 0))
  end)

  it("adds every process's counts to the tally, none lost when they run at once", function()
    local dir = fresh_dir()
    sys.mkdir_p(dir)
    assert.is_true(run_workers("tally_worker", [[
local cache = require "sparkgen.cache"
local dir = arg[1]
for _ = 1, 50 do
  local c = assert(cache.open{dir = dir})
  c:get(string.rep("ab", 32)); c:get(string.rep("cd", 32))
  c:close()
  cache.tally(dir, 1, 0)
end
]], 4, dir))
    assert.same({hits = 200, misses = 400}, cache.tally(dir))
  end)

  it("raises when a closed handle is used, and closes twice quietly", function()
    local c = cache.open{dir = fresh_dir()}
    c:close()
    c:close()
    assert.has_error(function() c:get(key(1)) end, "attempt to use a closed cache")
  end)

  it("closes at the end of a <close> scope", function()
    local outer
    do
      local c <close> = cache.open{dir = fresh_dir()}
      outer = c
    end
    assert.has_error(function() outer:stats() end)
  end)

  it("reports a directory that cannot be created", function()
    local file = fresh_dir()
    sys.mkdir_p(base)
    write(file, "not a directory")
    local c, err = cache.open{dir = file .. "/sub"}
    assert.is_nil(c)
    assert.is_string(err)
  end)

  it("stays consistent while several processes put, get, evict and clear at once", function()
    local dir = fresh_dir()
    assert.is_true(run_workers("worker", [[
local cache = require "sparkgen.cache"
local digest = require "sparkgen.digest"
local dir, id = arg[1], arg[2]
local c = assert(cache.open{dir = dir, max_entries = 40, lru_entries = 4})
for round = 1, 300 do
  local ok, err = c:put(digest.sha256("k" .. round % 60), ("%s:%d:"):format(id, round) .. ("x"):rep(round % 300), 60)
  if not ok then io.stderr:write("put: ", tostring(err), "\n") os.exit(1) end
  local v, gerr = c:get(digest.sha256("k" .. (round * 7) % 60))
  if v == nil and gerr then io.stderr:write("get: ", gerr, "\n") os.exit(1) end
  if v and not v:match("^%d+:%d+:x*$") then io.stderr:write("bad value\n") os.exit(1) end
  if round % 150 == 0 then c:clear() end
  if round % 100 == 0 then c:prune() end
end
]], 3, dir))
    local st = cache.open{dir = dir}:stats()
    assert.is_true(st.entries <= 60, "entries " .. st.entries)
  end)
end)

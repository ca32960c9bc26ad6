-- schema_store.lua — the on-disk snapshot cache and its aliases. The schema service
-- (schema.lua) sees only this interface:
--   store.locate(cfg, identity, schemas)   → dir, key   where a catalog's snapshot lives
--   store.alias_path(cfg, conninfo, schemas) / read_alias(path) / write_alias(path, dir, key)
--   store.open(dir, key)                    → handle or nil (missing, foreign or corrupt)
--   store.write(dir, key, source, tables, epoch) → handle or nil, message
--   store.writer(dir, key) → w: w:add(t) as each table is read, w:finish(source,
--                            tables, epoch) → handle or nil, message; w:abort()
--   handle.source, handle.captured_epoch, handle.dir
--   handle:named(name) → the tables called `name` (every schema, normal form), or
--                        nil, message when the file holding them is damaged
--   handle:word(word)  → {{schema, name}, ...}: the tables whose lower-case name, or a
--                        part of it (runs of letters and digits, 3 or more), is
--                        `word` (store.name_words); or nil, message when damaged
--   handle:index()     → {{schema=, name=, kind=, rows=}, ...} for every table, or nil, message
--   handle:side_get(kind, t) / handle:side_put(kind, t, value)  per-table extras (a
--                        damaged one is removed and counts as absent)
--   store.cache_root(cfg), store.count(cfg, hit), store.tally(cfg), store.reset_tally(cfg),
--   store.check_cache_dir(dir)   upkeep for `sparkgen cache`
--
-- The cache is built so that preparing a request costs the same at 10,000 tables as at
-- 5: it reads only what the request needs. Every table is one JSON record in a single
-- data file (one file: 10,000 files would cost more to create than the catalog query
-- itself); small buckets, chosen by a hash of the name (about 32 names a bucket, at
-- most 1024 buckets), hold where each name's records are and which tables each word of
-- a name belongs to. The buckets are one file too, each at the offset meta.json gives
-- (creating 512 bucket files cost 0.1 s of a cold 10,000-table snapshot on a busy
-- machine). Looking up a table reads its bucket's bytes and its record's; matching
-- the words of a request reads one bucket per word; the full index is read only to
-- list every table or to suggest a name. Every part is checked as it is read.
--
--   cache/schema/<key>/meta.json     source, captured time, bucket count (freshness),
--                                    "bucket_at": where each bucket is, 22 digits per
--                                    bucket: offset and length, 11 each (length 0: an
--                                    empty bucket); one string, so opening a snapshot
--                                    decodes no list of 1024 numbers
--                      tables.json   the records, one JSON table a line
--                      index.json    [[schema, name, kind, rows], ...] (listing, suggestions)
--                      buckets.json  bucket b where bucket_at says: {"n": {name: [[schema,
--                                    offset, length], ...]}, "w": {word: [[schema, name], ...]}}
--                      f/<h>.json    foreign keys fetched on demand, per table named N
--                      s/<h>.json    statistics fetched on demand, per table named N
--   cache/schema/alias/<h>           {dir=, key=}: a connection string + environment
--                                    seen before → its identity's directory
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"
local log = require "sparkgen.log"
local format = require "sparkgen.schema_format"
local check = require "sparkgen.schema_check"
local cjson = require "cjson.safe"

local M = {}

-- Bumped whenever the cache's file layout changes, so old caches are never misread.
local CACHE_LAYOUT = 4
-- Digits per bucket in meta.json's bucket_at: offset and length, 11 each.
local AT_WIDTH = 22

-- FNV-1a, 64 bits: cache file names and buckets only need a stable spread, and a
-- lookup must stay well under a millisecond (the first sha256 call costs about one
-- initialising the crypto library). Identity is checked against meta.json anyway.
local function fnv1a(s)
  local h = -3750763034362895579 -- 14695981039346656037, the FNV-1a 64-bit offset basis
  local byte = string.byte
  for i = 1, #s do
    h = (h ~ byte(s, i)) * 1099511628211
  end
  return h
end
M._fnv1a = fnv1a

local function name_hash(name) return ("%016x"):format(fnv1a(name)) end

local function bucket_of(name, nbuckets)
  return fnv1a(name) % nbuckets
end

local function base_dir(cfg)
  return cfg.cache and cfg.cache.dir or ((os.getenv("HOME") or "/tmp") .. "/.cache/sparkgen")
end

--- The directory every snapshot of the cache lives under.
function M.cache_root(cfg)
  return base_dir(cfg) .. "/schema"
end

--- Count one snapshot-cache hit or miss (the same tally file as the stores'; see
--- sparkgen.cache.tally), and read or reset the counts.
function M.count(cfg, hit)
  local root = M.cache_root(cfg)
  sys.mkdir_p(root)
  require("sparkgen.cache").tally(root, hit and 1 or 0, hit and 0 or 1)
end

function M.tally(cfg)
  return require("sparkgen.cache").tally(M.cache_root(cfg))
end

function M.reset_tally(cfg)
  require("sparkgen.cache").reset_tally(M.cache_root(cfg))
end

--- The cache directory for a connection identity and schema selection, and the key
--- its meta file must carry.
function M.locate(cfg, identity, schemas)
  local key = util.json_encode({identity = identity, schemas = schemas or "*", layout = CACHE_LAYOUT})
  return base_dir(cfg) .. "/schema/" .. name_hash(key) .. name_hash(key .. "\1"), key
end

-- What libpq reads besides the connection string to decide where it connects and as
-- whom. The password plays no part in the identity and never enters the alias.
local IDENTITY_ENV = {"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE",
                      "PGSERVICEFILE", "PGSYSCONFDIR", "USER", "LOGNAME", "HOME"}

--- The alias file mapping (connection string, environment, schemas) to the identity
--- cache directory resolved by libpq on an earlier run.
function M.alias_path(cfg, conninfo, schemas)
  local parts = {"layout", tostring(CACHE_LAYOUT), "conninfo", util.redact(conninfo or ""),
                 "schemas", table.concat(schemas or {"*"}, ",")}
  for _, var in ipairs(IDENTITY_ENV) do
    parts[#parts + 1] = var
    parts[#parts + 1] = os.getenv(var) or ""
  end
  local key = table.concat(parts, "\0")
  return base_dir(cfg) .. "/schema/alias/" .. name_hash(key) .. name_hash(key .. "\1")
end

--- The directory and key an alias names, or nil.
function M.read_alias(path)
  local data = util.read_file(path)
  local doc = data and cjson.decode(data)
  if type(doc) ~= "table" or type(doc.dir) ~= "string" or type(doc.key) ~= "string" then return nil end
  return doc.dir, doc.key
end

function M.write_alias(path, dir, key)
  sys.mkdir_p(util.dirname(path))
  util.write_file(path, util.json_encode({dir = dir, key = key}))
end

-- The cache's files, read and checked (schema_check): the decoded value, or nil and
-- what is wrong with it.
--- The words a table name is found by: the whole name in lower case and each run of
--- letters and digits in it of 3 characters or more ("order_items": order_items,
--- order, items). schema_select matches a request's words against these.
function M.name_words(name)
  local lname = name:lower()
  local out, seen = {lname}, {[lname] = true}
  for part in lname:gmatch("[%w]+") do
    if #part >= 3 and not seen[part] then
      seen[part] = true
      out[#out + 1] = part
    end
  end
  return out
end

-- A name's records in a bucket, checked and put in normal form: entries or nil, message.
local function check_names(path, name, entries)
  if type(name) ~= "string" or not check.is_list(entries) then
    return nil, ("%s: name %s has no list of records"):format(path, tostring(name))
  end
  for i, e in ipairs(entries) do
    local list = check.is_list(e)
    local off, len = list and math.tointeger(e[2]), list and math.tointeger(e[3])
    if type(e[1]) ~= "string" or not off or not len or off < 0 or len < 2 then
      return nil, ("%s: record %d of %s is not [schema, offset, length]"):format(path, i, name)
    end
    entries[i] = {e[1], off, len}
  end
  return entries
end

-- A word's tables in a bucket, checked: hits or nil, message.
local function check_hits(path, word, hits)
  if type(word) ~= "string" or not check.is_list(hits) then
    return nil, ("%s: word %s has no list of tables"):format(path, tostring(word))
  end
  for i, h in ipairs(hits) do
    if not check.is_list(h) or type(h[1]) ~= "string" or type(h[2]) ~= "string" then
      return nil, ("%s: table %d of word %s is not [schema, name]"):format(path, i, word)
    end
  end
  return hits
end

-- A bucket's text (`path` names it in messages) decoded to {n =, w =}. A lookup checks
-- the entries of the one name or word it reads (Store:named, Store:word): a bucket of
-- a 10,000-table catalog holds ~40 names and ~100 words, and checking them all was
-- ~1.5 ms of a cache-hit generate. With `full`, every entry is checked now.
local function decode_bucket(data, path, full)
  local decoded = cjson.decode(data)
  if type(decoded) ~= "table" or type(decoded.n) ~= "table" or type(decoded.w) ~= "table" then
    return nil, path .. ": not a bucket {n = {...}, w = {...}}"
  end
  decoded.path, decoded.checked_n, decoded.checked_w = path, {}, {}
  if full then
    for name, entries in pairs(decoded.n) do
      local ok, err = check_names(path, name, entries)
      if not ok then return nil, err end
      decoded.checked_n[name] = true
    end
    for word, hits in pairs(decoded.w) do
      local ok, err = check_hits(path, word, hits)
      if not ok then return nil, err end
      decoded.checked_w[word] = true
    end
  end
  return decoded
end

local function read_index(path)
  local data, err = util.read_file(path)
  if not data then return nil, err end
  local decoded = cjson.decode(data)
  if type(decoded) ~= "table" or not check.is_list(decoded.tables) then
    return nil, path .. ": no list of tables"
  end
  local idx = {}
  for i, e in ipairs(decoded.tables) do
    if not check.is_list(e) or type(e[1]) ~= "string" or type(e[2]) ~= "string" or not check.KINDS[e[3]]
       or (e[4] ~= cjson.null and math.tointeger(e[4]) == nil) then
      return nil, ("%s: entry %d is not [schema, name, kind, rows]"):format(path, i)
    end
    idx[i] = {schema = e[1], name = e[2], kind = e[3], rows = e[4] ~= cjson.null and math.tointeger(e[4]) or nil}
  end
  return idx
end

local Store = {}
Store.__index = Store

local function handle(dir, meta)
  return setmetatable({dir = dir, source = meta.source, captured_epoch = meta.captured_epoch,
                       _buckets = meta.buckets, _bucket_at = meta.bucket_at, _bucket = {},
                       _by_name = {}, _files = {}}, Store)
end

-- `len` bytes at `off` of this snapshot's file `name` (kept open), or nil, message.
function Store:_bytes(name, off, len)
  local path = self.dir .. "/" .. name
  local f = self._files[name]
  if f == nil then
    f = io.open(path, "rb") or false
    self._files[name] = f
  end
  if not f then return nil, path .. ": cannot be opened" end
  local text = f:seek("set", off) and f:read(len)
  if not text or #text ~= len then return nil, ("%s: no %d bytes at %d"):format(path, len, off) end
  return text
end

-- Bucket b's checked maps {n=, w=} (a bucket no name or word hashes to is empty),
-- read once; nil, message when it is damaged.
function Store:_bucket_map(b, full)
  local m = self._bucket[b]
  if m and not full then return m end
  local path = self.dir .. "/buckets.json"
  local half, at = AT_WIDTH // 2, b * AT_WIDTH
  local o, l = self._bucket_at:sub(at + 1, at + half), self._bucket_at:sub(at + half + 1, at + AT_WIDTH)
  local off, len = o:match("^%d+$") and math.tointeger(o), l:match("^%d+$") and math.tointeger(l)
  if not off or not len then
    return nil, ("%s/meta.json: bucket %d has no offset and length"):format(self.dir, b)
  end
  if len == 0 then
    m = {n = {}, w = {}, checked_n = {}, checked_w = {}, path = path}
  else
    local text, err = self:_bytes("buckets.json", off, len)
    if not text then return nil, err end
    local bad
    m, bad = decode_bucket(text, ("%s (bucket %d)"):format(path, b), full)
    if not m then return nil, bad end
  end
  self._bucket[b] = m
  return m
end

-- One table's record: `len` bytes at `off` of the data file, decoded and checked; the
-- table (normal form) or nil, message.
function Store:_record(off, len, schema, name)
  local path = self.dir .. "/tables.json"
  local text, terr = self:_bytes("tables.json", off, len)
  if not text then return nil, terr end
  local t = cjson.decode(text)
  if type(t) ~= "table" then return nil, ("%s: no record at %d"):format(path, off) end
  t = format.denull(t)
  local ok, cerr = check.check_table(t, ("%s: record at %d"):format(path, off))
  if not ok then return nil, cerr end
  if t.name ~= name or t.schema ~= schema then
    return nil, ("%s: the record at %d is %s.%s, not %s.%s"):format(path, off, tostring(t.schema),
      tostring(t.name), schema, name)
  end
  return format.normalize_table(t)
end

--- The snapshot stored in dir for key, or nil when there is none (or it belongs to
--- another key, or its meta file is damaged).
function M.open(dir, key)
  local data = util.read_file(dir .. "/meta.json")
  local meta = data and cjson.decode(data)
  if type(meta) ~= "table" or type(meta.captured_epoch) ~= "number" or type(meta.source) ~= "table"
     or math.tointeger(meta.buckets) == nil or meta.buckets < 1 or meta.key ~= key
     or type(meta.bucket_at) ~= "string" or #meta.bucket_at ~= meta.buckets * AT_WIDTH then
    return nil
  end
  meta.buckets = math.tointeger(meta.buckets)
  -- JSON's [] decodes to an empty table; the source's schema list stays a list, so a
  -- cached snapshot prints the same document as the fresh one.
  if check.is_list(meta.source.schemas) then meta.source.schemas = util.array(meta.source.schemas) end
  return handle(dir, meta)
end

--- The tables named exactly `name` (every schema): the bucket holding that name, then
--- those tables' records only, once. nil, message when a file is damaged.
function Store:named(name)
  local list = self._by_name[name]
  if list then return list end
  local m, bad = self:_bucket_map(bucket_of(name, self._buckets))
  if not m then return nil, bad end
  local entries = m.n[name]
  if entries and not m.checked_n[name] then
    entries, bad = check_names(m.path, name, entries)
    if not entries then return nil, bad end
    m.checked_n[name] = true
  end
  list = {}
  for _, e in ipairs(entries or {}) do
    local t, rbad = self:_record(e[2], e[3], e[1], name)
    if not t then return nil, rbad end
    list[#list + 1] = t
  end
  self._by_name[name] = list
  return list
end

--- The tables a word of a request names (see name_words): {{schema, name}, ...}, or
--- nil, message when the bucket holding the word is damaged.
function Store:word(word)
  local m, bad = self:_bucket_map(bucket_of(word, self._buckets))
  if not m then return nil, bad end
  local hits = m.w[word]
  if hits and not m.checked_w[word] then
    hits, bad = check_hits(m.path, word, hits)
    if not hits then return nil, bad end
    m.checked_w[word] = true
  end
  return hits or {}
end

--- Every table's summary {schema=, name=, kind=, rows=}, from the index file; nil,
--- message when it is damaged.
function Store:index()
  return read_index(self.dir .. "/index.json")
end

--- Remove this snapshot (it turned out damaged).
function Store:drop()
  util.remove_tree(self.dir)
end

-- Per-name sidecar files (kind "f" foreign keys, "s" statistics) hold
-- {name=, by_schema = {[schema] = value}}: tables of one name share a file.
-- A sidecar that does not check out is removed and counts as absent (fetched again).
local function side_read(self, kind, name)
  local path = ("%s/%s/%s.json"):format(self.dir, kind, name_hash(name))
  local data = util.read_file(path)
  if not data then return nil end
  local decoded = cjson.decode(data)
  local ok, err = type(decoded) == "table" and type(decoded.by_schema) == "table", "not {name, by_schema}"
  if ok and decoded.name ~= name then return nil end -- another name with the same hash
  for schema, value in pairs(ok and decoded.by_schema or {}) do
    value = format.denull(value)
    decoded.by_schema[schema] = value
    local where = ("%s: %s"):format(path, tostring(schema))
    if kind == "f" then ok, err = check.check_relations(value, where)
    elseif value ~= false then ok, err = check.check_stats(value, where) end
    if not ok then break end
  end
  if not ok then
    log.warn("schema.cache", {status = "damaged: dropped", file = path, error = err})
    os.remove(path)
    return nil
  end
  return decoded.by_schema
end

--- What was stored for table t ({schema=, name=}) under kind, or nil.
function Store:side_get(kind, t)
  local by_schema = side_read(self, kind, t.name)
  if by_schema then return by_schema[t.schema] end
end

--- Store value for table t under kind (a failed write is logged, not fatal).
function Store:side_put(kind, t, value)
  if not util.dir_exists(self.dir) then return end
  local by_schema = side_read(self, kind, t.name) or {}
  by_schema[t.schema] = value
  local dir = self.dir .. "/" .. kind
  sys.mkdir_p(dir)
  local ok, err = util.write_file(("%s/%s.json"):format(dir, name_hash(t.name)),
                                  util.json_encode({name = t.name, by_schema = by_schema}))
  if not ok then log.warn("schema.cache", {status = "write failed", error = err}) end
end

-- A snapshot being written: everything goes into a temporary directory, then one
-- rename, so readers see the old snapshot or the new one, never half of one. Records
-- are written as tables are added (during the catalog query, see schema.lua); the
-- buckets, index and meta when the catalog is complete.
local Writer = {}
Writer.__index = Writer

--- Start writing the snapshot for key in dir: a writer, or nil, message.
---   w:add(t)   store table t's record (normal form); adding the same table again
---              replaces its record (the earlier bytes stay unused in the data file)
---   w:finish(source, tables, epoch) → handle, or nil, message: tables is the whole
---              catalog, sorted, every one of them added
---   w:abort()  remove what was written
function M.writer(dir, key)
  sys.mkdir_p(util.dirname(dir))
  local tmp = ("%s.tmp.%d.%d"):format(dir, sys.getpid(), math.random(1, 1 << 30))
  local ok, err = sys.mkdir_p(tmp)
  if not ok then return nil, err end
  local data, derr = io.open(tmp .. "/tables.json", "wb")
  if not data then util.remove_tree(tmp) return nil, derr end
  return setmetatable({dir = dir, key = key, tmp = tmp, _data = data, _off = 0, _at = {}}, Writer)
end

function Writer:add(t)
  if self._err then return end
  local rec, eerr = cjson.encode(t)
  if not rec then self._err = eerr return end
  local ok, err = self._data:write(rec, "\n")
  if not ok then self._err = err return end
  self._at[t] = {self._off, #rec}
  self._off = self._off + #rec + 1
end

function Writer:abort()
  if self._data then self._data:close() self._data = nil end
  util.remove_tree(self.tmp)
end

local function finish(self, source, tables, epoch)
  local tmp = self.tmp
  local dok, dwerr = self._data:close()
  self._data = nil
  if self._err or not dok then return nil, self._err or dwerr end
  local nbuckets = 1
  while nbuckets * 32 < #tables and nbuckets < 1024 do nbuckets = nbuckets * 2 end
  local buckets = {}
  local function bucket(b)
    local m = buckets[b]
    if not m then
      m = {n = {}, w = {}}
      buckets[b] = m
    end
    return m
  end
  local index = {}
  local encode = cjson.encode
  local at = self._at
  for i, t in ipairs(tables) do
    local rec = at[t]
    if not rec then return nil, ("table %s.%s was never added"):format(tostring(t.schema), tostring(t.name)) end
    local n = bucket(bucket_of(t.name, nbuckets)).n
    local g = n[t.name]
    if not g then
      g = {}
      n[t.name] = g
    end
    g[#g + 1] = {t.schema, rec[1], rec[2]}
    for _, w in ipairs(M.name_words(t.name)) do
      local wm = bucket(bucket_of(w, nbuckets)).w
      local list = wm[w]
      if not list then
        list = {}
        wm[w] = list
      end
      list[#list + 1] = {t.schema, t.name}
    end
    index[i] = {t.schema, t.name, t.kind, t.rows or cjson.null}
  end
  local bf, bferr = io.open(tmp .. "/buckets.json", "wb")
  if not bf then return nil, bferr end
  local bucket_at, boff = {}, 0
  local at_format = "%0" .. AT_WIDTH // 2 .. "d%0" .. AT_WIDTH // 2 .. "d"
  for b = 0, nbuckets - 1 do
    local m = buckets[b]
    if m then
      -- an empty map must stay an object
      local text = table.concat({'{"n":', next(m.n) and encode(m.n) or "{}", ',"w":',
                                 next(m.w) and encode(m.w) or "{}", "}"})
      bf:write(text, "\n")
      bucket_at[b + 1] = at_format:format(boff, #text)
      boff = boff + #text + 1
    else
      bucket_at[b + 1] = at_format:format(0, 0)
    end
  end
  local bok, bwerr = bf:close()
  if not bok then return nil, bwerr end
  bucket_at = table.concat(bucket_at)
  local writes = {
    {"index.json", encode({tables = index})},
    {"meta.json", util.json_encode({source = source, captured_epoch = epoch, buckets = nbuckets,
                                    bucket_at = bucket_at, key = self.key})},
  }
  for _, w in ipairs(writes) do
    local f, ferr = io.open(tmp .. "/" .. w[1], "wb")
    if not f then return nil, ferr end
    f:write(w[2])
    f:close()
  end
  local dir, old = self.dir, nil
  if sys.stat(dir) then
    old = ("%s.old.%d.%d"):format(dir, sys.getpid(), math.random(1, 1 << 30))
    sys.rename(dir, old)
  end
  local rok, rerr = sys.rename(tmp, dir)
  if old then util.remove_tree(old) end
  if not rok then return nil, rerr end
  return handle(dir, {source = source, captured_epoch = epoch, buckets = nbuckets, bucket_at = bucket_at})
end

-- The cache files are about a third of the catalog's size in garbage; letting it wait
-- for the next cycle costs less than marking the live catalog again now.
local function without_gc(fn, ...)
  local running = collectgarbage("isrunning")
  collectgarbage("stop")
  local pok, a, b = pcall(fn, ...)
  if running then collectgarbage("restart") end
  if not pok then error(a, 0) end
  return a, b
end

function Writer:finish(source, tables, epoch)
  local st, err = without_gc(finish, self, source, tables, epoch)
  if not st then self:abort() end
  return st, err
end

--- Check a snapshot directory of the cache: meta, index and every bucket must
--- read and decode to their shapes. The meta table, or nil and what is wrong.
function M.check_cache_dir(dir)
  local data, err = util.read_file(dir .. "/meta.json")
  local meta = data and cjson.decode(data)
  if type(meta) ~= "table" then return nil, err or "meta.json is not a JSON object" end
  local checked = M.open(dir, meta.key)
  if not checked then return nil, "meta.json lacks its fields" end
  data, err = util.read_file(dir .. "/index.json")
  local index = data and cjson.decode(data)
  if type(index) ~= "table" or type(index.tables) ~= "table" then return nil, err or "index.json has no table list" end
  for i, e in ipairs(index.tables) do
    if type(e) ~= "table" or type(e[1]) ~= "string" or type(e[2]) ~= "string" or type(e[3]) ~= "string" then
      return nil, ("index.json: entry %d is not [schema, name, kind, rows]"):format(i)
    end
  end
  for b = 0, checked._buckets - 1 do
    local ok, berr = checked:_bucket_map(b, true)
    if not ok then return nil, berr end
  end
  return {source = checked.source, captured_epoch = checked.captured_epoch, buckets = checked._buckets,
          key = meta.key}
end

--- Store a fresh catalog (tables in normal form) under dir for key: the handle, or
--- nil, message.
function M.write(dir, key, source, tables, epoch)
  local w, err = M.writer(dir, key)
  if not w then return nil, err end
  without_gc(function() for _, t in ipairs(tables) do w:add(t) end end)
  return w:finish(source, tables, epoch)
end

return M

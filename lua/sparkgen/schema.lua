-- schema.lua — the schema service: what tables exist, their columns, keys and
-- relationships, from a JSON snapshot file (offline) or a live PostgreSQL database
-- (through sparkgen.pg), with an on-disk snapshot cache so a second process within the
-- TTL never touches the database.
--
-- The cache is built for big catalogs: tables are spread over bucket files by a hash
-- of their name (about 32 tables a bucket, at most 1024 buckets: 10,000 files would
-- cost more to create than the catalog query itself), plus a names index and a tiny
-- meta file. Looking up one table parses only its bucket; nothing else is read until
-- asked for.
--
--   cache/schema/<key>/meta.json     source, captured time, bucket count (freshness)
--                      index.json    [[schema, name, kind, rows], ...] (listing, suggestions)
--                      t/<b>.json    {name: [tables with that name]} for bucket b
--                      f/<h>.json    foreign keys fetched on demand, per table named N
--                      s/<h>.json    statistics fetched on demand, per table named N
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"
local log = require "sparkgen.log"
local cjson = require "cjson.safe"
local check = require "sparkgen.schema_check"

local M = {}

--- Server notices (NOTICE, WARNING, DEBUG...) of a catalog connection go to the
--- structured log at the matching level, never raw to stderr (pg.connect's on_notice).
function M.log_notice(message)
  local severity = message:match("^(%u+%d*):") or "NOTICE"
  local level = severity == "WARNING" and "warn" or severity:match("^DEBUG") and "debug" or "info"
  log.emit(level, "pg.notice", {severity = severity, message = message})
end

M.FORMAT = "sparkgen.schema/1"

local KINDS = check.KINDS

-- Words PostgreSQL's quote_ident quotes (every keyword that is not unreserved:
-- SELECT word FROM pg_get_keywords() WHERE catcode <> 'U', PostgreSQL 15).
local RESERVED = {}
for w in ([[all analyse analyze and any array as asc asymmetric authorization between
  bigint binary bit boolean both case cast char character check coalesce collate
  collation column concurrently constraint create cross current_catalog current_date
  current_role current_schema current_time current_timestamp current_user dec decimal
  default deferrable desc distinct do else end except exists extract false fetch float
  for foreign freeze from full grant greatest group grouping having ilike in initially
  inner inout int integer intersect interval into is isnull join lateral leading least
  left like limit localtime localtimestamp national natural nchar none normalize not
  notnull null nullif numeric offset on only or order out outer overlaps overlay placing
  position precision primary real references returning right row select session_user
  setof similar smallint some substring symmetric table tablesample then time timestamp
  to trailing treat trim true union unique user using values varchar variadic verbose
  when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest
  xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable]]):gmatch("%S+") do
  RESERVED[w] = true
end

--- An identifier as PostgreSQL's quote_ident prints it: bare when it is lower case
--- letters, digits, _ and $ (not starting with a digit or $) and not a keyword;
--- otherwise in double quotes with embedded quotes doubled.
function M.quote_ident(name)
  assert(type(name) == "string", "quote_ident: name must be a string")
  if name:match("^[a-z_][a-z0-9_$]*$") and not RESERVED[name] then return name end
  return '"' .. name:gsub('"', '""') .. '"'
end

--- schema.name, each part quoted as needed: the name SQL and JDBC's dbtable use.
function M.qualified(t)
  return M.quote_ident(t.schema or "public") .. "." .. M.quote_ident(t.name)
end

--- The name the generated body passes to read_table: bare in public, else schema.name.
function M.read_table_name(t)
  if t.schema == nil or t.schema == "public" then return t.name end
  return t.schema .. "." .. t.name
end

--- A display name: schema.name with PostgreSQL quoting.
local function display(t)
  return M.qualified(t)
end

--- Parse a table reference: `name`, `schema.name`, `"Mixed Case"`, `sales."Order Items"`.
--- Returns a list of parts {text=, quoted=} (1 or 2) or nil, message.
function M.parse_name(s)
  if type(s) ~= "string" or s == "" then return nil, "empty table name" end
  local parts, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == '"' then
      local buf, j = {}, i + 1
      while true do
        local q = s:find('"', j, true)
        if not q then return nil, ("unterminated quoted identifier in table name %s"):format(s) end
        buf[#buf + 1] = s:sub(j, q - 1)
        if s:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      parts[#parts + 1] = {text = table.concat(buf), quoted = true}
    else
      local j = s:find('[."]', i) or (n + 1)
      if s:sub(j, j) == '"' then return nil, ("misplaced quote in table name %s"):format(s) end
      parts[#parts + 1] = {text = s:sub(i, j - 1), quoted = false}
      i = j
    end
    if i <= n then
      if s:sub(i, i) ~= "." then return nil, ("unexpected text after a quoted name in %s"):format(s) end
      i = i + 1
      if i > n then return nil, ("table name %s ends with a dot"):format(s) end
    end
  end
  if #parts > 2 then return nil, ("table name %s has more than schema.name"):format(s) end
  for _, p in ipairs(parts) do
    if p.text == "" then return nil, ("empty part in table name %s"):format(s) end
  end
  return parts
end

-- The spellings to try for one part: exact, then folded to lower case when unquoted
-- (PostgreSQL folds unquoted identifiers).
local function spellings(p)
  if p.quoted or p.text:lower() == p.text then return {p.text} end
  return {p.text, p.text:lower()}
end

-- JSON null → nil, recursively; lists marked as arrays so empty ones stay [].
local function denull(v)
  if v == cjson.null then return nil end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = denull(x) end
  return out
end

local function as_list(v)
  if type(v) ~= "table" then return util.array({}) end
  return util.array(v)
end

-- A table object as the rest of sparkgen sees it: arrays marked, nulls gone.
local function normalize_table(t)
  t.columns = as_list(t.columns)
  for i, c in ipairs(t.columns) do
    c.position = math.tointeger(c.position) or i
    if c.nullable == nil then c.nullable = true end
    if c.generated == false then c.generated = nil end -- absent means false, as from pg
  end
  t.primary_key = as_list(t.primary_key)
  if t.foreign_keys then
    t.foreign_keys = as_list(t.foreign_keys)
    for _, fk in ipairs(t.foreign_keys) do
      fk.columns = as_list(fk.columns)
      fk.ref_columns = as_list(fk.ref_columns)
      fk.schema = fk.schema or t.schema
      fk.table = fk.table or t.name
      fk.ref_schema = fk.ref_schema or t.schema
    end
  end
  if type(t.rows) == "number" then t.rows = math.tointeger(t.rows) or t.rows end
  return t
end

-- ------------------------------------------------------------------ JSON output

-- The snapshot is written like util.json_encode(doc, 2) (sorted keys, two-space
-- indent) but by a writer that knows the shape: a 10,000-table catalog is 200,000
-- column objects, and the generic encoder would spend seconds sorting keys. Absent
-- optional values of tables and columns are written as null so every entry has the
-- same keys; generated defaults to false.
local cjson_encode = cjson.encode
-- Like util.json_encode: cjson escapes "/" as "\/", valid but noisy in types and paths.
local function enc_str(s)
  if s:find("/", 1, true) then return (cjson_encode(s):gsub("\\/", "/")) end
  return cjson_encode(s)
end

local function enc_scalar(v)
  if v == nil then return "null" end
  local tv = type(v)
  if tv == "string" then return enc_str(v) end
  if tv == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v == math.floor(v) and v > -2^53 and v < 2^53 then return ("%d"):format(v) end
  end
  return cjson_encode(v) or "null"
end

local function enc_generic(v, depth)
  local s = util.json_encode(v, 2)
  if depth > 0 then s = s:gsub("\n", "\n" .. (" "):rep(2 * depth)) end
  return s
end

local pads = {}
local function pad(depth)
  local p = pads[depth]
  if not p then
    p = "\n" .. (" "):rep(2 * depth)
    pads[depth] = p
  end
  return p
end

-- Key prefixes per depth: '\n    "name": ' (first key) or ',\n    "name": '.
local prefixes = {}
local function key_prefixes(depth, keys)
  local cache = prefixes[depth]
  if not cache then
    cache = {}
    prefixes[depth] = cache
  end
  local p = cache[keys]
  if not p then
    p = {}
    for i, k in ipairs(keys) do p[k] = (i > 1 and "," or "") .. pad(depth) .. '"' .. k .. '": ' end
    p.first = {}
    for _, k in ipairs(keys) do p.first[k] = pad(depth) .. '"' .. k .. '": ' end
    cache[keys] = p
  end
  return p
end

local COLUMN_KEYS = {"comment", "default", "generated", "name", "nullable", "position", "type"}
local TABLE_KEYS = {"columns", "comment", "foreign_keys", "kind", "name", "primary_key",
                    "rows", "schema", "stats"}

local function string_list(list, depth)
  if #list == 0 then return "[]" end
  local out = {}
  for i, s in ipairs(list) do out[i] = pad(depth + 1) .. enc_scalar(s) end
  return "[" .. table.concat(out, ",") .. pad(depth) .. "]"
end

local function fk_json(fk, depth)
  local p = pad(depth + 1)
  return table.concat({"{",
    p, '"columns": ', string_list(fk.columns or {}, depth + 1), ",",
    p, '"name": ', enc_scalar(fk.name), ",",
    p, '"ref_columns": ', string_list(fk.ref_columns or {}, depth + 1), ",",
    p, '"ref_schema": ', enc_scalar(fk.ref_schema), ",",
    p, '"ref_table": ', enc_scalar(fk.ref_table),
    pad(depth), "}"})
end

-- The constant pieces of a column object at `depth`: "{", each '"key": ' with its
-- indentation, and "}"; a column is then one concatenation of pieces and values.
local column_pieces = {}
local function column_keys(depth)
  local p = column_pieces[depth]
  if not p then
    p = {}
    for i, k in ipairs(COLUMN_KEYS) do
      p[i] = (i > 1 and "," or "") .. pad(depth + 1) .. '"' .. k .. '": '
    end
    p.open = pad(depth) .. "{" .. p[1]
    p.close = pad(depth) .. "}"
    column_pieces[depth] = p
  end
  return p
end

-- Encoded strings, memoised while one document is written (reset per document):
-- column names, types and defaults repeat across thousands of tables.
local memo = {}
local function enc_memo(s)
  local e = memo[s]
  if e == nil then
    e = enc_str(s)
    memo[s] = e
  end
  return e
end

-- Write table t (at `depth`) through out(...), which takes several strings at once (a
-- file's write method, or a collector): a column costs no intermediate string.
local function write_table(out, t, depth)
  local kp = key_prefixes(depth + 1, TABLE_KEYS)
  local item_pad, close_list = pad(depth + 2), pad(depth + 1) .. "]"
  out("{", kp.first.columns)
  local cols = t.columns or {}
  if #cols == 0 then
    out("[]")
  else
    local K = column_keys(depth + 2)
    local open, close = K.open, K.close
    local k2, k3, k4, k5, k6, k7 = K[2], K[3], K[4], K[5], K[6], K[7]
    for i, c in ipairs(cols) do
      local cm, df, pos, ty = c.comment, c.default, c.position, c.type
      out(i == 1 and "[" or ",", open,
          cm and enc_str(cm) or "null", k2, df and enc_memo(df) or "null",
          k3, c.generated and "true" or "false", k4, enc_memo(c.name),
          k5, c.nullable == false and "false" or "true",
          k6, math.type(pos) == "integer" and tostring(pos) or enc_scalar(pos or i),
          k7, type(ty) == "string" and enc_memo(ty) or enc_scalar(ty), close)
    end
    out(close_list)
  end
  out(kp.comment, enc_scalar(t.comment))
  if t.foreign_keys then
    out(kp.foreign_keys)
    if #t.foreign_keys == 0 then
      out("[]")
    else
      for i, fk in ipairs(t.foreign_keys) do
        out(i == 1 and "[" or ",", item_pad, fk_json(fk, depth + 2))
      end
      out(close_list)
    end
  end
  out(kp.kind, enc_scalar(t.kind), kp.name, enc_scalar(t.name),
      kp.primary_key, string_list(t.primary_key or {}, depth + 1),
      kp.rows, enc_scalar(t.rows), kp.schema, enc_scalar(t.schema))
  if t.stats then out(kp.stats, enc_generic(t.stats, depth + 1)) end
  out(pad(depth), "}")
end

local function collector()
  local parts, n = {}, 0
  local function out(...)
    for i = 1, select("#", ...) do
      n = n + 1
      parts[n] = (select(i, ...))
    end
  end
  return out, function() return table.concat(parts, "", 1, n) end
end

--- One table in the snapshot's JSON form, indented as at `depth` (2 in a document).
function M.encode_table(t, depth)
  local out, result = collector()
  write_table(out, t, depth or 0)
  return result()
end

-- Run fn with a lower GC pause: the big writers make short-lived strings while a large
-- catalog stays live, and the default pause (collect when the heap doubles) would let
-- garbage pile up to the size of the catalog itself.
local function with_gc_pause(pause, fn, ...)
  local mode = collectgarbage("incremental")
  local old_pause = collectgarbage("setpause", pause)
  -- A cycle must finish marking the whole live catalog before any garbage is freed;
  -- a higher step multiplier finishes it after less new allocation. The new pause only
  -- counts from the next cycle, so start one now.
  local old_mul = collectgarbage("setstepmul", 200)
  collectgarbage("step", 0)
  local ok, a, b = pcall(fn, ...)
  collectgarbage("setpause", old_pause)
  collectgarbage("setstepmul", old_mul)
  collectgarbage(mode)
  if not ok then error(a, 0) end
  return a, b
end

--- Write a snapshot document {format=, source=, tables=} through out(...) (several
--- strings per call, like a file's write), in pieces: a big catalog is never one
--- giant string.
function M.write_snapshot(out, source, tables)
  if #tables > 1000 then
    return with_gc_pause(150, M._write_snapshot, out, source, tables)
  end
  return M._write_snapshot(out, source, tables)
end

function M._write_snapshot(out, source, tables)
  memo = {}
  out('{\n  "format": ', enc_scalar(M.FORMAT), ',\n  "source": ', enc_generic(source or {}, 1),
      ',\n  "tables": ')
  if #tables == 0 then
    out("[]\n}")
  else
    for i, t in ipairs(tables) do
      out(i == 1 and "[\n    " or ",\n    ")
      write_table(out, t, 2)
    end
    out("\n  ]\n}")
  end
  memo = {}
end

--- The snapshot document as one string.
function M.encode_snapshot(source, tables)
  local out, result = collector()
  M.write_snapshot(out, source, tables)
  return result()
end

-- The snapshot form of a table (no cache-private fields).
local function public_table(t)
  local fks
  if t.foreign_keys then
    fks = util.array({})
    for i, fk in ipairs(t.foreign_keys) do
      fks[i] = {name = fk.name, columns = fk.columns, ref_schema = fk.ref_schema,
                ref_table = fk.ref_table, ref_columns = fk.ref_columns}
    end
  end
  return {schema = t.schema, name = t.name, kind = t.kind, comment = t.comment, rows = t.rows,
          columns = t.columns, primary_key = t.primary_key, foreign_keys = fks, stats = t.stats}
end

-- ------------------------------------------------------------------ the Schema object

local Schema = {}
Schema.__index = Schema

local function key_of(schema, name) return schema .. "\0" .. name end

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

-- Bumped whenever the cache's file layout changes, so old caches are never misread.
local CACHE_LAYOUT = 2

local function new_schema(fields)
  local S = setmetatable(fields, Schema)
  S._by_name = S._by_name or {}       -- name → list of tables (loaded)
  S._fk = {}                          -- "schema\0name" → {outgoing=, incoming=}
  S._stats = {}
  S._loaded = {}                      -- bucket files already read
  return S
end

-- Build the in-memory maps from a full list of tables.
local function index_tables(S, tables)
  S._all = tables
  S._by_name = {}
  for _, t in ipairs(tables) do
    local list = S._by_name[t.name]
    if not list then
      list = {}
      S._by_name[t.name] = list
    end
    list[#list + 1] = t
  end
end

-- The snapshot cache's files, read and checked (schema_check): the decoded value, or
-- nil and what is wrong with it.
local function read_bucket(path)
  local data, err = util.read_file(path)
  if not data then return nil, err end
  local decoded = cjson.decode(data)
  if type(decoded) ~= "table" then return nil, path .. ": not a JSON object" end
  for tname, tables in pairs(decoded) do
    if type(tname) ~= "string" or not check.is_list(tables) then
      return nil, ("%s: entry %s is not a list of tables"):format(path, tostring(tname))
    end
    for i, t in ipairs(tables) do
      t = denull(t)
      tables[i] = t
      local ok, cerr = check.check_table(t, ("%s: table #%d"):format(path, i))
      if not ok then return nil, cerr end
      if t.name ~= tname then return nil, ("%s: table %s filed under '%s'"):format(path, t.name, tname) end
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
    if not check.is_list(e) or type(e[1]) ~= "string" or type(e[2]) ~= "string" or not KINDS[e[3]]
       or (e[4] ~= cjson.null and math.tointeger(e[4]) == nil) then
      return nil, ("%s: entry %d is not [schema, name, kind, rows]"):format(path, i)
    end
    idx[i] = {schema = e[1], name = e[2], kind = e[3], rows = e[4] ~= cjson.null and math.tointeger(e[4]) or nil}
  end
  return idx
end

--- A cached snapshot turned out damaged: say so, drop it and read the catalog again
--- (the same as --refresh), then carry on as the fresh schema. When the database cannot
--- be reached, that is the error (one line), never a half-empty schema.
function Schema:_rebuild(reason)
  log.warn("schema.cache", {status = "damaged: dropped and rebuilt", dir = self._dir, error = reason})
  if self._dir then util.remove_tree(self._dir) end
  local cfg = util.copy(self._cfg or {})
  cfg.refresh = true
  local fresh, err = M.open(cfg)
  if not fresh then
    util.fail(("the cached schema snapshot was damaged (%s) and could not be read again: %s"):format(reason, err))
  end
  for k in pairs(self) do self[k] = nil end
  for k, v in pairs(fresh) do self[k] = v end
end

-- The tables named exactly `name` (every schema). Cache-backed schemas read the one
-- bucket file holding that name, once.
function Schema:_named(name)
  local list = self._by_name[name]
  if list then return list end
  if self._all or not self._dir then return {} end
  local b = bucket_of(name, self._buckets)
  if not self._loaded[b] then
    self._loaded[b] = true
    local path = ("%s/t/%d.json"):format(self._dir, b)
    -- A bucket the index needs may be absent only when no table hashes there.
    local decoded, bad = {}, nil
    if sys.stat(path) then decoded, bad = read_bucket(path) end
    if not decoded then
      self:_rebuild(bad)
      return self:_named(name)
    end
    for tname, tables in pairs(decoded) do
      if not self._by_name[tname] then
        for i, t in ipairs(tables) do tables[i] = normalize_table(t) end
        self._by_name[tname] = tables
      end
    end
  end
  list = self._by_name[name] or {}
  self._by_name[name] = list
  return list
end

-- Every table's summary {schema=, name=, kind=, rows=}: from memory or the index file.
function Schema:_index()
  if self._all then return self._all end
  if self._idx then return self._idx end
  local idx, bad = read_index(self._dir .. "/index.json")
  if not idx then
    self:_rebuild(bad)
    return self:_index()
  end
  self._idx = idx
  return idx
end

local function find_in(list, schema)
  for _, t in ipairs(list) do
    if t.schema == schema then return t end
  end
end

--- A table by name: "name" (public first, then a unique match in any schema),
--- "schema.name", quoted identifiers. Returns the table or nil, message (with the
--- closest names).
function Schema:table(ref)
  if type(ref) == "table" and ref.name then ref = M.read_table_name(ref) end
  if type(ref) ~= "string" then return nil, "a table name must be a string" end
  local parts, perr = M.parse_name(ref)
  if not parts then return nil, perr end
  if #parts == 2 then
    for _, sname in ipairs(spellings(parts[1])) do
      for _, tname in ipairs(spellings(parts[2])) do
        local t = find_in(self:_named(tname), sname)
        if t then return t end
      end
    end
    -- A dotted unquoted string may also be one table name that contains a dot.
    if not parts[1].quoted and not parts[2].quoted then
      local t = self:_unqualified(ref)
      if t then return t end
    end
  else
    for _, tname in ipairs(spellings(parts[1])) do
      local t, err = self:_unqualified(tname)
      if t then return t end
      if err then return nil, err end
    end
  end
  return nil, self:_missing(ref)
end

function Schema:_unqualified(name)
  local list = self:_named(name)
  if #list == 0 then return nil end
  local t = find_in(list, "public")
  if t then return t end
  if #list == 1 then return list[1] end
  local names = {}
  for i, x in ipairs(list) do names[i] = display(x) end
  table.sort(names)
  return nil, ("table name '%s' is ambiguous: %s (use schema.name)"):format(name, table.concat(names, ", "))
end

function Schema:_missing(ref)
  local candidates, seen = {}, {}
  for _, e in ipairs(self:_index()) do
    for _, c in ipairs({e.name, e.schema .. "." .. e.name}) do
      if not seen[c] then
        seen[c] = true
        candidates[#candidates + 1] = c
      end
    end
  end
  return ("no table '%s' in the schema (%s)%s"):format(ref, self:describe_source(), util.suggest(ref, candidates))
end

--- Where this schema came from, for messages.
function Schema:describe_source()
  local src = self.source or {}
  if src.kind == "snapshot" or self.mode == "snapshot" then
    return "snapshot " .. tostring(self.file or src.file or "?")
  end
  return ("database %s on %s"):format(tostring(src.database or "?"), tostring(src.host or "?"))
end

--- Every table (loads every table's file from a cache: the listing path, not the
--- lookup path), sorted by schema then name.
function Schema:tables()
  if self._all then return self._all end
  local out = {}
  for _, e in ipairs(self:_index()) do
    local t = find_in(self:_named(e.name), e.schema)
    if t then out[#out + 1] = t end
  end
  self._all = out
  return out
end

-- ----- live database access (lazy: a cache hit never connects)

function Schema:_connection()
  if self._conn then return self._conn end
  if not self._conninfo_set then return nil, "no database connection (the schema comes from a snapshot file)" end
  local pg = require "sparkgen.pg"
  local conn, err = pg.connect(self._conninfo, self._connect_opts)
  if not conn then return nil, util.redact(err) end
  self._conn = conn
  return conn
end

--- Close the database connection, if one was opened.
function Schema:close()
  if self._conn then
    self._conn:close()
    self._conn = nil
  end
end

-- Per-name sidecar files in the cache (foreign keys, statistics): {["schema"] = value}.
-- A sidecar that does not check out is removed and counts as absent (fetched again).
function Schema:_side_read(kind, name)
  if not self._dir then return nil end
  local path = ("%s/%s/%s.json"):format(self._dir, kind, name_hash(name))
  local data = util.read_file(path)
  if not data then return nil end
  local decoded = cjson.decode(data)
  local ok, err = type(decoded) == "table" and type(decoded.by_schema) == "table", "not {name, by_schema}"
  if ok and decoded.name ~= name then return nil end -- another name with the same hash
  for schema, value in pairs(ok and decoded.by_schema or {}) do
    value = denull(value)
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

function Schema:_side_write(kind, t, value)
  if not self._dir or not util.dir_exists(self._dir) then return end
  local by_schema = self:_side_read(kind, t.name) or {}
  by_schema[t.schema] = value
  local dir = self._dir .. "/" .. kind
  sys.mkdir_p(dir)
  local ok, err = util.write_file(("%s/%s.json"):format(dir, name_hash(t.name)),
                                  util.json_encode({name = t.name, by_schema = by_schema}))
  if not ok then log.warn("schema.cache", {status = "write failed", error = err}) end
end

local function mark_fk_lists(rel)
  rel.outgoing = as_list(rel.outgoing)
  rel.incoming = as_list(rel.incoming)
  for _, dir in ipairs({rel.outgoing, rel.incoming}) do
    for _, fk in ipairs(dir) do
      fk.columns = as_list(fk.columns)
      fk.ref_columns = as_list(fk.ref_columns)
    end
  end
  return rel
end

-- Snapshot files carry outgoing keys only; incoming ones come from scanning them all.
function Schema:_snapshot_foreign_keys(t)
  if not self._incoming then
    self._incoming = {}
    for _, x in ipairs(self:tables()) do
      for _, fk in ipairs(x.foreign_keys or {}) do
        local k = key_of(fk.ref_schema or x.schema, fk.ref_table)
        self._incoming[k] = self._incoming[k] or {}
        table.insert(self._incoming[k], fk)
      end
    end
  end
  return mark_fk_lists({outgoing = util.copy(t.foreign_keys or {}),
                        incoming = util.copy(self._incoming[key_of(t.schema, t.name)] or {})})
end

--- {outgoing = {fk...}, incoming = {fk...}} for a table (object or name); each fk
--- {name=, schema=, table=, columns=, ref_schema=, ref_table=, ref_columns=}.
--- Live schemas fetch on demand and cache per table; or nil, message.
function Schema:foreign_keys(t)
  if type(t) ~= "table" then
    local err
    t, err = self:table(t)
    if not t then return nil, err end
  end
  local k = key_of(t.schema, t.name)
  if self._fk[k] then return self._fk[k] end
  local rel
  if self.mode == "snapshot" or t.foreign_keys then
    rel = self:_snapshot_foreign_keys(t)
  else
    local cached = self:_side_read("f", t.name)
    if cached and cached[t.schema] then
      rel = mark_fk_lists(cached[t.schema])
    else
      local conn, err = self:_connection()
      if not conn then return nil, err end
      local fetched, ferr = conn:foreign_keys(t.schema, t.name)
      if not fetched then return nil, ferr end
      rel = mark_fk_lists(fetched)
      self:_side_write("f", t, rel)
    end
  end
  self._fk[k] = rel
  return rel
end

--- {rows=, partition_column=, lower=, upper=} for a partitioned JDBC read, or nil.
function Schema:stats(t)
  if type(t) ~= "table" then
    t = self:table(t)
    if not t then return nil end
  end
  if t.stats then
    local s = util.copy(t.stats)
    s.rows = s.rows or t.rows
    return s
  end
  if self.mode == "snapshot" then return nil end
  if t.kind ~= "table" and t.kind ~= "partitioned_table" and t.kind ~= "materialized_view" then return nil end
  local k = key_of(t.schema, t.name)
  if self._stats[k] ~= nil then return self._stats[k] or nil end
  local cached = self:_side_read("s", t.name)
  local st
  if cached and cached[t.schema] ~= nil then
    st = cached[t.schema]
  else
    local conn, err = self:_connection()
    if not conn then return nil, err end
    local fetched, ferr = conn:stats(t.schema, t.name)
    if not fetched then return nil, ferr end
    st = fetched
    self:_side_write("s", t, st)
  end
  if type(st) ~= "table" or not st.partition_column then st = false end
  self._stats[k] = st
  return st or nil
end

-- ----- choosing what the model sees

local function words_of(text)
  local words = {}
  for w in tostring(text or ""):lower():gmatch("[%w_]+") do
    if #w >= 3 then
      words[w] = true
      -- plural and singular spellings match each other ("orders" ~ "order")
      if w:sub(-1) == "s" then words[w:sub(1, -2)] = true else words[w .. "s"] = true end
      if w:sub(-3) == "ies" then words[w:sub(1, -4) .. "y"] = true end
    end
  end
  return words
end

-- How well a table name matches the request's words: whole name, then its parts.
local function name_score(name, words)
  local lname = name:lower()
  if words[lname] then return 3 end
  local hits = 0
  for part in lname:gmatch("[%w]+") do
    if #part >= 3 and words[part] then hits = hits + 1 end
  end
  return hits > 0 and math.min(hits, 2) or 0
end

--- The tables to describe to a model, most relevant first, at most `budget`:
--- select{source = table|name, tables = {names...}, text = "request", budget = 40}.
--- Order: the source; the type's tables; foreign-key neighbours of those (both
--- directions, depth 1 then 2); tables whose names match the request's words.
function Schema:select(opts)
  opts = opts or {}
  local budget = opts.budget or 40
  local chosen, order = {}, {}
  local function add(t, score)
    if not t then return end
    local k = key_of(t.schema, t.name)
    if chosen[k] == nil then
      chosen[k] = {t = t, score = score, seq = #order + 1}
      order[#order + 1] = chosen[k]
    elseif score > chosen[k].score then
      chosen[k].score = score
    end
  end
  local words = words_of(opts.text)
  local seeds = {}
  if opts.source then
    local src = type(opts.source) == "table" and opts.source or self:table(opts.source)
    if src then
      add(src, 1000)
      seeds[#seeds + 1] = src
    end
  end
  for _, name in ipairs(opts.tables or {}) do
    local t = self:table(name)
    if t then
      add(t, 900)
      seeds[#seeds + 1] = t
    end
  end
  -- Foreign-key neighbourhood, breadth first, bounded depth and bounded fetches.
  local frontier, fetches = seeds, 0
  for depth = 1, 2 do
    local next_frontier = {}
    for _, t in ipairs(frontier) do
      if fetches >= budget * 2 then break end
      fetches = fetches + 1
      local rel = self:foreign_keys(t)
      for _, dir in ipairs(rel and {rel.outgoing, rel.incoming} or {}) do
        for _, fk in ipairs(dir) do
          for _, ref in ipairs({{fk.ref_schema, fk.ref_table}, {fk.schema, fk.table}}) do
            if ref[1] and ref[2] then
              local n = find_in(self:_named(ref[2]), ref[1])
              if n and not chosen[key_of(n.schema, n.name)] then
                -- Neighbours the request also names rank above the others.
                add(n, (depth == 1 and 500 or 200) + 10 * name_score(n.name, words))
                next_frontier[#next_frontier + 1] = n
              end
            end
          end
        end
      end
    end
    frontier = next_frontier
  end
  -- Tables whose names the request mentions.
  if next(words) then
    for _, e in ipairs(self:_index()) do
      local s = name_score(e.name, words)
      if s > 0 then add(find_in(self:_named(e.name), e.schema), 100 + 10 * s) end
    end
  end
  table.sort(order, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.seq < b.seq
  end)
  local out = {}
  for i = 1, math.min(budget, #order) do out[i] = order[i].t end
  return out
end

-- ----- output

--- The snapshot document as a Lua table (tables in the public shape).
function Schema:snapshot()
  local tables = util.array({})
  for i, t in ipairs(self:tables()) do tables[i] = public_table(t) end
  return {format = M.FORMAT, source = self.source, tables = tables}
end

--- The snapshot as JSON text (the format --schema reads), indent 2.
function Schema:to_json()
  return M.encode_snapshot(self.source or {}, self:tables())
end

--- Stream the snapshot JSON to a file handle (no trailing newline).
function Schema:write_json(fh)
  M.write_snapshot(function(...) fh:write(...) end, self.source or {}, self:tables())
end

-- ------------------------------------------------------------------ opening

local function read_snapshot(path)
  local data, err = util.read_file(path, util.SCHEMA_READ_LIMIT)
  if not data then return nil, ("cannot read schema snapshot %s"):format(tostring(err)) end
  local doc, jerr = util.json_decode(data)
  if not doc then return nil, ("schema snapshot %s is not valid JSON: %s"):format(path, jerr) end
  if type(doc) ~= "table" then return nil, ("schema snapshot %s: expected a JSON object"):format(path) end
  if doc.format ~= nil and doc.format ~= M.FORMAT then
    return nil, ("schema snapshot %s: unknown format %s (expected %s)"):format(path, tostring(doc.format), M.FORMAT)
  end
  if type(doc.tables) ~= "table" then
    return nil, ("schema snapshot %s: missing \"tables\" list"):format(path)
  end
  if not check.is_list(doc.tables) then
    return nil, ("schema snapshot %s: \"tables\" must be a list"):format(path)
  end
  if doc.source ~= nil and doc.source ~= cjson.null and type(doc.source) ~= "table" then
    return nil, ("schema snapshot %s: \"source\" must be an object"):format(path)
  end
  local tables = {}
  for i, t in ipairs(doc.tables) do
    t = denull(t)
    local ok, cerr = check.check_table(t, ("schema snapshot %s: table #%d"):format(path, i))
    if not ok then return nil, cerr end
    t.schema = t.schema or "public"
    t.kind = t.kind or "table"
    tables[#tables + 1] = normalize_table(t)
  end
  table.sort(tables, function(a, b)
    if a.schema ~= b.schema then return a.schema < b.schema end
    return a.name < b.name
  end)
  local source = type(doc.source) == "table" and denull(doc.source) or {}
  source.kind = source.kind or "snapshot"
  return tables, source
end

--- A schema from a snapshot file: Schema or nil, message.
function M.from_file(path)
  local tables, source = read_snapshot(path)
  if not tables then return nil, source end
  local S = new_schema({mode = "snapshot", file = path, source = source})
  index_tables(S, tables)
  return S
end

--- A schema from a list of tables already in memory (tests, recipes).
function M.from_tables(tables, source)
  local list = {}
  for i, t in ipairs(tables) do
    local c = util.deepcopy(t)
    c.schema = c.schema or "public"
    c.kind = c.kind or "table"
    list[i] = normalize_table(c)
  end
  local S = new_schema({mode = "snapshot", source = source or {kind = "memory"}})
  index_tables(S, list)
  return S
end

local function schema_list(v)
  if not v then return nil end
  if type(v) == "string" then
    local out = {}
    for s in v:gmatch("[^,]+") do out[#out + 1] = util.trim(s) end
    v = out
  end
  if #v == 0 then return nil end
  local list = util.copy(v)
  table.sort(list)
  return list
end

--- Whether cfg (and the environment) name a live database.
function M.live_configured(cfg)
  if cfg.db and cfg.db ~= "" then return true end
  for _, var in ipairs({"DATABASE_URL", "PGDATABASE", "PGHOST", "PGSERVICE"}) do
    local v = os.getenv(var)
    if v and v ~= "" then return true end
  end
  return false
end

--- The cache directory for a connection identity and schema selection.
function M.cache_dir(cfg, identity, schemas)
  local key = util.json_encode({identity = identity, schemas = schemas or "*", layout = CACHE_LAYOUT})
  return (cfg.cache and cfg.cache.dir or ((os.getenv("HOME") or "/tmp") .. "/.cache/sparkgen"))
    .. "/schema/" .. name_hash(key) .. name_hash(key .. "\1"), key
end

local alias_path, read_alias, write_alias

-- What libpq reads besides the connection string to decide where it connects and as
-- whom. The password plays no part in the identity and never enters the alias.
local IDENTITY_ENV = {"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE",
                      "PGSERVICEFILE", "PGSYSCONFDIR", "USER", "LOGNAME", "HOME"}

--- The alias file mapping (connection string, environment, schemas) to the identity
--- cache directory resolved by libpq on an earlier run.
alias_path = function(cfg, conninfo, schemas)
  local parts = {"layout", tostring(CACHE_LAYOUT), "conninfo", util.redact(conninfo or ""),
                 "schemas", table.concat(schemas or {"*"}, ",")}
  for _, var in ipairs(IDENTITY_ENV) do
    parts[#parts + 1] = var
    parts[#parts + 1] = os.getenv(var) or ""
  end
  local key = table.concat(parts, "\0")
  local base = (cfg.cache and cfg.cache.dir or ((os.getenv("HOME") or "/tmp") .. "/.cache/sparkgen"))
  return base .. "/schema/alias/" .. name_hash(key) .. name_hash(key .. "\1")
end

read_alias = function(path)
  local data = util.read_file(path)
  local doc = data and cjson.decode(data)
  if type(doc) ~= "table" or type(doc.dir) ~= "string" or type(doc.key) ~= "string" then return nil end
  return doc.dir, doc.key
end

write_alias = function(path, dir, key)
  sys.mkdir_p(util.dirname(path))
  util.write_file(path, util.json_encode({dir = dir, key = key}))
end

local function read_meta(dir, key)
  local data = util.read_file(dir .. "/meta.json")
  local meta = data and cjson.decode(data)
  if type(meta) ~= "table" or type(meta.captured_epoch) ~= "number" or type(meta.source) ~= "table"
     or math.tointeger(meta.buckets) == nil or meta.buckets < 1 or meta.key ~= key then
    return nil
  end
  meta.buckets = math.tointeger(meta.buckets)
  return meta
end

-- Write the cache for a fresh catalog: everything into a temporary directory, then one
-- rename, so readers see the old snapshot or the new one, never half of one.
local function write_cache(dir, key, source, tables, epoch)
  local tmp = ("%s.tmp.%d.%d"):format(dir, sys.getpid(), math.random(1, 1 << 30))
  local ok, err = sys.mkdir_p(tmp .. "/t")
  if not ok then return nil, err end
  local nbuckets = 1
  while nbuckets * 32 < #tables and nbuckets < 1024 do nbuckets = nbuckets * 2 end
  local buckets = {}
  local index = {}
  for i, t in ipairs(tables) do
    local b = bucket_of(t.name, nbuckets)
    local bucket = buckets[b]
    if not bucket then
      bucket = {}
      buckets[b] = bucket
    end
    local g = bucket[t.name]
    if not g then
      g = {}
      bucket[t.name] = g
    end
    g[#g + 1] = t
    index[i] = {t.schema, t.name, t.kind, t.rows or cjson.null}
  end
  local encode = cjson.encode
  for b, bucket in pairs(buckets) do
    local f, ferr = io.open(("%s/t/%d.json"):format(tmp, b), "wb")
    if not f then util.remove_tree(tmp) return nil, ferr end
    f:write(encode(bucket))
    f:close()
  end
  local writes = {
    {"index.json", encode({tables = index})},
    {"meta.json", util.json_encode({source = source, captured_epoch = epoch, buckets = nbuckets, key = key})},
  }
  for _, w in ipairs(writes) do
    local f, ferr = io.open(tmp .. "/" .. w[1], "wb")
    if not f then util.remove_tree(tmp) return nil, ferr end
    f:write(w[2])
    f:close()
  end
  local old
  if sys.stat(dir) then
    old = ("%s.old.%d.%d"):format(dir, sys.getpid(), math.random(1, 1 << 30))
    sys.rename(dir, old)
  end
  local rok, rerr = sys.rename(tmp, dir)
  if old then util.remove_tree(old) end
  if not rok then util.remove_tree(tmp) return nil, rerr end
  return true
end

local function from_cache(dir, meta, fields)
  fields.mode = "live"
  fields._dir = dir
  fields._buckets = meta.buckets
  fields.source = meta.source
  fields.cached = true
  return new_schema(fields)
end

--- Open the schema cfg describes: cfg.schema (a snapshot file) wins; else the live
--- database (cfg.db, DATABASE_URL or the PG* variables) through the snapshot cache.
--- Returns Schema or nil, message.
function M.open(cfg)
  cfg = cfg or {}
  if cfg.schema and cfg.schema ~= "" then return M.from_file(cfg.schema) end
  if not M.live_configured(cfg) then
    return nil, "no schema: give a snapshot with --schema FILE, or a database with --db " ..
      "CONNINFO, DATABASE_URL or the PG* variables (PGHOST, PGDATABASE, PGSERVICE)"
  end
  local conninfo = (cfg.db and cfg.db ~= "") and cfg.db or nil
  local schemas = schema_list(cfg.schemas)
  local use_cache = not (cfg.cache and cfg.cache.enabled == false)
  local ttl = cfg.schema_ttl or 1800
  local fields = {_conninfo = conninfo, _conninfo_set = true, _cfg = cfg,
                  _connect_opts = {statement_timeout_ms = cfg.statement_timeout_ms or 30000,
                                   connect_timeout_s = cfg.connect_timeout_s or 10,
                                   on_notice = M.log_notice}}
  local now = sys.now()

  -- Fast path: the same connection string and environment as a recent run name the
  -- same identity, so a fresh snapshot is found without loading libpq at all.
  local alias = use_cache and not cfg.refresh and alias_path(cfg, conninfo, schemas)
  if alias then
    local adir, akey = read_alias(alias)
    local meta = adir and read_meta(adir, akey)
    if meta and now - meta.captured_epoch < ttl then
      log.debug("schema.cache", {status = "hit", dir = adir})
      M.count(cfg, true)
      return from_cache(adir, meta, fields)
    end
  end

  local pg = require "sparkgen.pg"
  local identity, ierr = pg.identity(conninfo)
  if not identity then return nil, util.redact(ierr) end
  local dir, key = M.cache_dir(cfg, identity, schemas)
  local meta = use_cache and read_meta(dir, key)
  if alias and meta then write_alias(alias, dir, key) end
  if meta and not cfg.refresh and now - meta.captured_epoch < ttl then
    log.debug("schema.cache", {status = "hit", dir = dir})
    M.count(cfg, true)
    return from_cache(dir, meta, fields)
  end
  if use_cache then M.count(cfg, false) end

  local span = log.span("schema.catalog", {host = identity.host, database = identity.dbname,
                                            schemas = schemas})
  local conn, cerr = pg.connect(conninfo, fields._connect_opts)
  local tables
  if conn then
    tables, cerr = conn:catalog(schemas)
    if not tables then conn:close() conn = nil end
  end
  if not conn then
    cerr = util.redact(cerr)
    span:fail(cerr)
    if meta then
      local age = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(meta.captured_epoch))
      if cfg.allow_stale then
        log.warn("schema.stale", {status = "using a stale snapshot", captured_at = age, error = cerr})
        local S = from_cache(dir, meta, fields)
        S.stale = true
        return S
      end
      return nil, ("%s (a cached schema snapshot from %s exists; --allow-stale would use it)"):format(cerr, age)
    end
    return nil, cerr
  end
  span:done("ok", {tables = #tables})
  for _, t in ipairs(tables) do normalize_table(t) end
  local source = {kind = "postgres", host = identity.host, port = identity.port,
                  database = identity.dbname, user = identity.user,
                  schemas = schemas and util.array(schemas) or util.array({}),
                  captured_at = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(now))}
  fields.mode = "live"
  fields.source = source
  fields._conn = conn
  local S = new_schema(fields)
  index_tables(S, tables)
  if use_cache then
    sys.mkdir_p(util.dirname(dir))
    -- The cache files are about a third of the catalog's size in garbage; letting it
    -- wait for the next cycle costs less than marking the live catalog again now.
    local running = collectgarbage("isrunning")
    collectgarbage("stop")
    local pok, ok, werr = pcall(write_cache, dir, key, source, tables, now)
    if running then collectgarbage("restart") end
    if not pok then error(ok, 0) end
    if ok then
      S._dir = dir
      local apath = alias_path(cfg, conninfo, schemas)
      if apath then write_alias(apath, dir, key) end
    else
      log.warn("schema.cache", {status = "write failed", error = werr})
    end
  end
  return S
end

--- Put every table's outgoing foreign keys on the table (t.foreign_keys), as a
--- snapshot file carries them (`schema dump`). A live schema asks the database once
--- for all of them; per-table reads would take minutes on a big catalog.
function Schema:attach_foreign_keys()
  local tables = self:tables()
  local pending = false
  for _, t in ipairs(tables) do
    if not t.foreign_keys then pending = true break end
  end
  if not pending then return true end
  if self.mode ~= "snapshot" then
    local conn = self:_connection()
    if conn then
      local all, err = conn:all_foreign_keys(self.source and self.source.schemas
                                             and #self.source.schemas > 0 and self.source.schemas or nil)
      if not all then return nil, err end
      local by_table = {}
      for _, fk in ipairs(all) do
        local k = key_of(fk.schema, fk.table)
        by_table[k] = by_table[k] or util.array({})
        fk.columns = as_list(fk.columns)
        fk.ref_columns = as_list(fk.ref_columns)
        table.insert(by_table[k], fk)
      end
      for _, t in ipairs(tables) do
        t.foreign_keys = t.foreign_keys or by_table[key_of(t.schema, t.name)] or util.array({})
      end
      self._fk, self._incoming = {}, nil -- incoming keys now come from scanning
      return true
    end
  end
  -- No connection (a stale cache): whatever was cached per table, else nothing.
  log.warn("schema.dump", {status = "no database: foreign keys only where cached"})
  for _, t in ipairs(tables) do
    if not t.foreign_keys then
      local rel = self:foreign_keys(t)
      t.foreign_keys = util.array(util.copy(rel and rel.outgoing or {}))
    end
  end
  return true
end

-- ------------------------------------------------------------------ diff

local function by_key(S)
  local map, keys = {}, {}
  for _, t in ipairs(S:tables()) do
    local k = display(t)
    map[k] = t
    keys[#keys + 1] = k
  end
  return map, keys
end

local function same_list(a, b)
  a, b = a or {}, b or {}
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local function fk_sig(fk)
  return ("%s(%s)->%s.%s(%s)"):format(fk.name or "", table.concat(fk.columns or {}, ","),
    fk.ref_schema or "", fk.ref_table or "", table.concat(fk.ref_columns or {}, ","))
end

--- What changed from a to b (Schema objects): {added = {names}, removed = {names},
--- changed = {{table=, kind=?, added_columns=, removed_columns=, changed_columns=
--- {{name=, from=, to=}}, primary_key=?{from=, to=}, foreign_keys=?{added=, removed=}}}}.
function M.diff(a, b)
  local amap, akeys = by_key(a)
  local bmap, bkeys = by_key(b)
  local out = {added = util.array({}), removed = util.array({}), changed = util.array({})}
  for _, k in ipairs(bkeys) do
    if not amap[k] then out.added[#out.added + 1] = k end
  end
  for _, k in ipairs(akeys) do
    local ta, tb = amap[k], bmap[k]
    if not tb then
      out.removed[#out.removed + 1] = k
    else
      local ch = {table = k, added_columns = util.array({}), removed_columns = util.array({}),
                  changed_columns = util.array({})}
      local acols, bcols = {}, {}
      for _, c in ipairs(ta.columns) do acols[c.name] = c end
      for _, c in ipairs(tb.columns) do bcols[c.name] = c end
      for _, c in ipairs(tb.columns) do
        if not acols[c.name] then ch.added_columns[#ch.added_columns + 1] = c.name end
      end
      for _, c in ipairs(ta.columns) do
        local d = bcols[c.name]
        if not d then
          ch.removed_columns[#ch.removed_columns + 1] = c.name
        else
          local from, to, differs = {}, {}, false
          for _, f in ipairs({"type", "nullable", "default", "generated"}) do
            if c[f] ~= d[f] then
              from[f], to[f], differs = c[f], d[f], true
            end
          end
          if differs then
            ch.changed_columns[#ch.changed_columns + 1] = {name = c.name, from = from, to = to}
          end
        end
      end
      local changed = #ch.added_columns + #ch.removed_columns + #ch.changed_columns > 0
      if ta.kind ~= tb.kind then
        ch.kind = {from = ta.kind, to = tb.kind}
        changed = true
      end
      if not same_list(ta.primary_key, tb.primary_key) then
        ch.primary_key = {from = util.array(util.copy(ta.primary_key or {})),
                          to = util.array(util.copy(tb.primary_key or {}))}
        changed = true
      end
      if ta.foreign_keys and tb.foreign_keys then
        local asig, bsig = {}, {}
        for _, fk in ipairs(ta.foreign_keys) do asig[fk_sig(fk)] = true end
        for _, fk in ipairs(tb.foreign_keys) do bsig[fk_sig(fk)] = true end
        local fadd, frem = util.array({}), util.array({})
        for s in pairs(bsig) do if not asig[s] then fadd[#fadd + 1] = s end end
        for s in pairs(asig) do if not bsig[s] then frem[#frem + 1] = s end end
        table.sort(fadd)
        table.sort(frem)
        if #fadd + #frem > 0 then
          ch.foreign_keys = {added = fadd, removed = frem}
          changed = true
        end
      end
      if changed then out.changed[#out.changed + 1] = ch end
    end
  end
  return out
end

-- ------------------------------------------------------------------ cache upkeep

--- The directory every snapshot of the cache lives under.
function M.cache_root(cfg)
  return (cfg.cache and cfg.cache.dir or ((os.getenv("HOME") or "/tmp") .. "/.cache/sparkgen")) .. "/schema"
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

--- Check a snapshot directory of the cache: meta, index and every bucket file must
--- read and decode to their shapes. The meta table, or nil and what is wrong.
function M.check_cache_dir(dir)
  local data, err = util.read_file(dir .. "/meta.json")
  local meta = data and cjson.decode(data)
  if type(meta) ~= "table" then return nil, err or "meta.json is not a JSON object" end
  local checked = read_meta(dir, meta.key)
  if not checked then return nil, "meta.json lacks its fields" end
  data, err = util.read_file(dir .. "/index.json")
  local index = data and cjson.decode(data)
  if type(index) ~= "table" or type(index.tables) ~= "table" then return nil, err or "index.json has no table list" end
  for i, e in ipairs(index.tables) do
    if type(e) ~= "table" or type(e[1]) ~= "string" or type(e[2]) ~= "string" or type(e[3]) ~= "string" then
      return nil, ("index.json: entry %d is not [schema, name, kind, rows]"):format(i)
    end
  end
  for b = 0, checked.buckets - 1 do
    local path = ("%s/t/%d.json"):format(dir, b)
    if sys.stat(path) then
      data, err = util.read_file(path)
      local bucket = data and cjson.decode(data)
      if type(bucket) ~= "table" then return nil, err or ("t/%d.json is not a JSON object"):format(b) end
    end
  end
  return checked
end

return M

-- schema.lua — the schema service: what tables exist, their columns, keys and
-- relationships, from a JSON snapshot file (offline) or a live PostgreSQL database
-- (through sparkgen.pg), with an on-disk snapshot cache so a second process within the
-- TTL never touches the database. It ties together:
--   schema_names.lua   quoting, parsing and resolving table references
--   schema_format.lua  the snapshot format: decode, validate, normal form, writer
--   schema_store.lua   the on-disk snapshot cache and its aliases
--   schema_select.lua  which tables a prompt shows
--   schema_diff.lua    what changed between two schemas
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"
local log = require "sparkgen.log"
local names = require "sparkgen.schema_names"
local format = require "sparkgen.schema_format"
local store = require "sparkgen.schema_store"

local M = {}

--- Server notices (NOTICE, WARNING, DEBUG...) of a catalog connection go to the
--- structured log at the matching level, never raw to stderr (pg.connect's on_notice).
function M.log_notice(message)
  local severity = message:match("^(%u+%d*):") or "NOTICE"
  local level = severity == "WARNING" and "warn" or severity:match("^DEBUG") and "debug" or "info"
  log.emit(level, "pg.notice", {severity = severity, message = message})
end

-- The public API of the pieces, as callers have always seen it.
M.FORMAT = format.FORMAT
M.quote_ident, M.qualified = names.quote_ident, names.qualified
M.read_table_name, M.parse_name = names.read_table_name, names.parse_name
M.encode_table, M.encode_snapshot = format.encode_table, format.encode_snapshot
M.write_snapshot = format.write_snapshot
M.cache_dir = store.locate
M.cache_root, M.check_cache_dir = store.cache_root, store.check_cache_dir
M.count, M.tally, M.reset_tally = store.count, store.tally, store.reset_tally
M.diff = require("sparkgen.schema_diff").diff

local key_of, find_in = names.key, names.find_in
local as_list, normalize_table = format.as_list, format.normalize_table

-- ------------------------------------------------------------------ the Schema object

local Schema = {}
Schema.__index = Schema

local function new_schema(fields)
  local S = setmetatable(fields, Schema)
  S._by_name = S._by_name or {}       -- name → list of tables (loaded)
  S._fk = {}                          -- "schema\0name" → {outgoing=, incoming=}
  S._stats = {}
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

--- A cached snapshot turned out damaged: say so, drop it and read the catalog again
--- (the same as --refresh), then carry on as the fresh schema. When the database cannot
--- be reached, that is the error (one line), never a half-empty schema.
function Schema:_rebuild(reason)
  log.warn("schema.cache", {status = "damaged: dropped and rebuilt", dir = self._store and self._store.dir,
                            error = reason})
  if self._store then self._store:drop() end
  local cfg = util.copy(self._cfg or {})
  cfg.refresh = true
  local fresh, err = M.open(cfg)
  if not fresh then
    util.fail(("the cached schema snapshot was damaged (%s) and could not be read again: %s"):format(reason, err))
  end
  for k in pairs(self) do self[k] = nil end
  for k, v in pairs(fresh) do self[k] = v end
end

-- The tables named exactly `name` (every schema). Cache-backed schemas ask the store.
function Schema:_named(name)
  local list = self._by_name[name]
  if list then return list end
  if self._all or not self._store then return {} end
  local bad
  list, bad = self._store:named(name)
  if not list then
    self:_rebuild(bad)
    return self:_named(name)
  end
  self._by_name[name] = list
  return list
end

--- The tables whose names may match a request's words ({word = true, ...}, lower
--- case), as {schema=, name=} in catalog order: a cached snapshot reads one bucket per
--- word (the store's word index); a schema in memory offers every table.
function Schema:_word_candidates(words)
  if self._all or not self._store then return self:_index() end
  local out, seen = {}, {}
  for w in pairs(words) do
    local hits, bad = self._store:word(w)
    if not hits then
      self:_rebuild(bad)
      return self:_word_candidates(words)
    end
    for _, h in ipairs(hits) do
      local k = key_of(h[1], h[2])
      if not seen[k] then
        seen[k] = true
        out[#out + 1] = {schema = h[1], name = h[2]}
      end
    end
  end
  table.sort(out, function(a, b)
    if a.schema ~= b.schema then return a.schema < b.schema end
    return a.name < b.name
  end)
  return out
end

-- Every table's summary {schema=, name=, kind=, rows=}: from memory or the store.
function Schema:_index()
  if self._all then return self._all end
  if not self._idx then
    local idx, bad = self._store:index()
    if not idx then
      self:_rebuild(bad)
      return self:_index()
    end
    self._idx = idx
  end
  return self._idx
end

--- A table by name: "name" (public first, then a unique match in any schema),
--- "schema.name", quoted identifiers. Returns the table or nil, message (with the
--- closest names).
function Schema:table(ref)
  if type(ref) == "table" and ref.name then ref = names.read_table_name(ref) end
  if type(ref) ~= "string" then return nil, "a table name must be a string" end
  local t, err = names.resolve(ref, function(n) return self:_named(n) end)
  if t then return t end
  if err then return nil, err end
  return nil, names.not_found(ref, self:_index(), self:describe_source())
end

--- Where this schema came from, for messages.
function Schema:describe_source()
  local src = self.source or {}
  if src.kind == "snapshot" or self.mode == "snapshot" then
    return "snapshot " .. tostring(self.file or src.file or "?")
  end
  return ("database %s on %s"):format(tostring(src.database or "?"), tostring(src.host or "?"))
end

--- When this schema's catalog was read (epoch seconds), or nil when unknown.
function Schema:captured_epoch()
  if self._store then return self._store.captured_epoch end
  return format.captured_epoch(self.source)
end

local function age_text(seconds)
  if seconds < 90 then return ("%d s"):format(math.max(0, math.floor(seconds))) end
  if seconds < 90 * 60 then return ("%d min"):format(math.floor(seconds / 60 + 0.5)) end
  if seconds < 36 * 3600 then return ("%d h"):format(math.floor(seconds / 3600 + 0.5)) end
  return ("%d days"):format(math.floor(seconds / 86400 + 0.5))
end

--- How old the snapshot is, for people: "captured 2026-11-26T01:00:00Z, 12 min ago,
--- from the cache" (nil when the snapshot does not say when it was captured).
function Schema:describe_age(now)
  local at = self:captured_epoch()
  if not at then return nil end
  local how = self.stale and "a stale cached snapshot" or (self.cached and "from the cache")
    or (self.mode == "live" and "read just now") or "from the snapshot file"
  return ("captured %s, %s ago, %s"):format(os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(at)),
    age_text((now or sys.now()) - at), how)
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
  return format.normalize_relations({outgoing = util.copy(t.foreign_keys or {}),
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
    local cached = self._store and self._store:side_get("f", t)
    if cached then
      rel = format.normalize_relations(cached)
    else
      local conn, err = self:_connection()
      if not conn then return nil, err end
      local fetched, ferr = conn:foreign_keys(t.schema, t.name)
      if not fetched then return nil, ferr end
      rel = format.normalize_relations(fetched)
      if self._store then self._store:side_put("f", t, rel) end
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
  local cached = self._store and self._store:side_get("s", t)
  local st
  if cached ~= nil then
    st = cached
  else
    local conn, err = self:_connection()
    if not conn then return nil, err end
    local fetched, ferr = conn:stats(t.schema, t.name)
    if not fetched then return nil, ferr end
    st = fetched
    if self._store then self._store:side_put("s", t, st) end
  end
  if type(st) ~= "table" or not st.partition_column then st = false end
  self._stats[k] = st
  return st or nil
end

--- The tables to describe to a model, most relevant first (schema_select.lua).
function Schema:select(opts)
  return require("sparkgen.schema_select").select(self, opts)
end

-- ----- output

--- The snapshot document as a Lua table (tables in the public shape).
function Schema:snapshot()
  local tables = util.array({})
  for i, t in ipairs(self:tables()) do tables[i] = format.public_table(t) end
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

--- A schema from a snapshot file: Schema or nil, message.
function M.from_file(path)
  local tables, source = format.read(path)
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

-- A live schema served from a cached snapshot (no connection until one is needed).
local function from_cache(st, fields)
  fields.mode = "live"
  fields._store = st
  fields.source = st.source
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
  local alias = use_cache and not cfg.refresh and store.alias_path(cfg, conninfo, schemas)
  if alias then
    local adir, akey = store.read_alias(alias)
    local st = adir and store.open(adir, akey)
    if st and now - st.captured_epoch < ttl then
      log.debug("schema.cache", {status = "hit", dir = adir})
      M.count(cfg, true)
      return from_cache(st, fields)
    end
  end

  local pg = require "sparkgen.pg"
  local identity, ierr = pg.identity(conninfo)
  if not identity then return nil, util.redact(ierr) end
  local dir, key = store.locate(cfg, identity, schemas)
  local cached = use_cache and store.open(dir, key)
  if alias and cached then store.write_alias(alias, dir, key) end
  if cached and not cfg.refresh and now - cached.captured_epoch < ttl then
    log.debug("schema.cache", {status = "hit", dir = dir})
    M.count(cfg, true)
    return from_cache(cached, fields)
  end
  if use_cache then M.count(cfg, false) end

  local span = log.span("schema.catalog", {host = identity.host, database = identity.dbname,
                                            schemas = schemas})
  local conn, cerr = pg.connect(conninfo, fields._connect_opts)
  local tables, writer
  if conn then
    -- The cache's records are written while the server still sends the catalog.
    local werr
    if use_cache then
      writer, werr = store.writer(dir, key)
      if not writer then log.warn("schema.cache", {status = "write failed", error = werr}) end
    end
    tables, cerr = conn:catalog(schemas, writer and function(t) writer:add(normalize_table(t)) end)
    if not tables then
      conn:close()
      conn = nil
      if writer then writer:abort() end
    end
  end
  if not conn then
    cerr = util.redact(cerr)
    span:fail(cerr)
    if cached then
      local age = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(cached.captured_epoch))
      if cfg.allow_stale then
        log.warn("schema.stale", {status = "using a stale snapshot", captured_at = age, error = cerr})
        local S = from_cache(cached, fields)
        S.stale = true
        return S
      end
      return nil, ("%s (a cached schema snapshot from %s exists; --allow-stale would use it)"):format(cerr, age)
    end
    return nil, cerr
  end
  span:done("ok", {tables = #tables})
  if not writer then
    for _, t in ipairs(tables) do normalize_table(t) end
  end
  local source = {kind = "postgres", host = identity.host, port = identity.port,
                  database = identity.dbname, user = identity.user,
                  schemas = schemas and util.array(schemas) or util.array({}),
                  captured_at = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(now))}
  fields.mode = "live"
  fields.source = source
  fields._conn = conn
  local S = new_schema(fields)
  index_tables(S, tables)
  if writer then
    local st, werr = writer:finish(source, tables, now)
    if st then
      S._store = st
      local apath = store.alias_path(cfg, conninfo, schemas)
      if apath then store.write_alias(apath, dir, key) end
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


return M

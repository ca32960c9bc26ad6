-- schema_format.lua — the snapshot format `sparkgen.schema/1` (docs/internals.md):
-- reading and validating a snapshot document, the in-memory normal form of a table,
-- and the fast writer for big catalogs. No files are chosen here and nothing is cached.
local util = require "sparkgen.util"
local cjson = require "cjson.safe"
local check = require "sparkgen.schema_check"

local M = {}

M.FORMAT = "sparkgen.schema/1"

--- JSON null → nil, recursively (a copy; scalars are copied in the loop, not by a call
--- each: every record a request reads goes through here).
local null = cjson.null
local function denull(v)
  if v == null then return nil end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    if type(x) == "table" then out[k] = denull(x) elseif x ~= null then out[k] = x end
  end
  return out
end
M.denull = denull

--- A list marked as a JSON array (an empty one stays []); a non-table is an empty list.
function M.as_list(v)
  if type(v) ~= "table" then return util.array({}) end
  return util.array(v)
end
local as_list = M.as_list

--- A table object as the rest of sparkgen sees it: arrays marked, nulls gone.
function M.normalize_table(t)
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
local normalize_table = M.normalize_table

--- Foreign-key relations {outgoing=, incoming=} with every list marked as an array.
function M.normalize_relations(rel)
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

--- The snapshot form of a table (no cache-private fields).
function M.public_table(t)
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

-- ------------------------------------------------------------------ reading

--- Decode and validate a snapshot document (`where` names it in messages): the tables
--- in normal form, sorted by schema then name, and the source; or nil, message.
function M.decode(data, where)
  local doc, jerr = util.json_decode(data)
  if not doc then return nil, ("schema snapshot %s is not valid JSON: %s"):format(where, jerr) end
  if type(doc) ~= "table" then return nil, ("schema snapshot %s: expected a JSON object"):format(where) end
  if doc.format ~= nil and doc.format ~= M.FORMAT then
    return nil, ("schema snapshot %s: unknown format %s (expected %s)"):format(where, tostring(doc.format), M.FORMAT)
  end
  if type(doc.tables) ~= "table" then
    return nil, ("schema snapshot %s: missing \"tables\" list"):format(where)
  end
  if not check.is_list(doc.tables) then
    return nil, ("schema snapshot %s: \"tables\" must be a list"):format(where)
  end
  if doc.source ~= nil and doc.source ~= cjson.null and type(doc.source) ~= "table" then
    return nil, ("schema snapshot %s: \"source\" must be an object"):format(where)
  end
  local tables = {}
  for i, t in ipairs(doc.tables) do
    t = denull(t)
    local ok, cerr = check.check_table(t, ("schema snapshot %s: table #%d"):format(where, i))
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

--- The epoch of a source's captured_at ("YYYY-MM-DDTHH:MM:SSZ", UTC), or nil.
function M.captured_epoch(source)
  local at = type(source) == "table" and source.captured_at
  local y, mo, d, h, mi, sec = tostring(at or ""):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from the civil date (proleptic Gregorian), as in checks.lua's period bounds
  local yy = mo <= 2 and y - 1 or y
  local era = yy // 400
  local yoe = yy - era * 400
  local doy = (153 * (mo > 2 and mo - 3 or mo + 9) + 2) // 5 + d - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

--- Read and decode a snapshot file: tables, source or nil, message.
function M.read(path)
  local data, err = util.read_file(path, util.SCHEMA_READ_LIMIT)
  if not data then return nil, ("cannot read schema snapshot %s"):format(tostring(err)) end
  return M.decode(data, path)
end

return M

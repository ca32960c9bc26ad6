-- schema_check.lua — the one checker of the snapshot format (docs/internals.md), field
-- by field: `--schema FILE`, the snapshot cache's bucket files and its foreign-key and
-- statistics sidecars all pass through it before anything uses them, so a damaged or
-- hand-edited file is one clear message naming the field, never a wrong answer or a
-- crash deeper in. It only judges (values are not changed); JSON nulls must already be
-- gone (absent and null mean the same). An unknown field is an error that suggests the
-- closest known one.
local util = require "sparkgen.util"

local M = {}

M.KINDS = {table = true, partitioned_table = true, view = true, materialized_view = true,
           foreign_table = true}

local TABLE_FIELDS = {"schema", "name", "kind", "comment", "rows", "columns", "primary_key",
                      "foreign_keys", "stats"}
local COLUMN_FIELDS = {"name", "position", "type", "nullable", "default", "generated", "comment"}
local FK_FIELDS = {"name", "schema", "table", "columns", "ref_schema", "ref_table", "ref_columns"}
local STATS_FIELDS = {"rows", "partition_column", "lower", "upper"}

local set_of = util.set_of
local TABLE_SET, COLUMN_SET, FK_SET, STATS_SET =
  set_of(TABLE_FIELDS), set_of(COLUMN_FIELDS), set_of(FK_FIELDS), set_of(STATS_FIELDS)

local function describe(v)
  local t = type(v)
  if t == "table" then return next(v) == nil and "an empty list or object" or (#v > 0 and "a list" or "an object") end
  if t == "string" then return ("the string %s"):format(util.excerpt(("%q"):format(v), 40)) end
  if t == "number" and math.tointeger(v) then return "the number " .. math.tointeger(v) end
  return ("%s %s"):format(t == "number" and "the number" or t, tostring(v))
end

--- A JSON list: a table whose keys are exactly 1..n (an empty table counts).
local mtype = math.type -- called for every key of every entry of a bucket file read
function M.is_list(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for k in pairs(v) do
    if mtype(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #v
end

-- A JSON object: a table with string keys only (an empty table counts).
local function is_object(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do
    if type(k) ~= "string" then return false end
  end
  return true
end

local function fields(obj, allowed, names, where)
  if not is_object(obj) then return nil, ("%s: expected an object, got %s"):format(where, describe(obj)) end
  for k in pairs(obj) do
    if not allowed[k] then
      return nil, ("%s: unknown field '%s'%s"):format(where, k, util.suggest(k, names))
    end
  end
  return true
end

local function want(ok, where, field, what, v)
  if ok then return true end
  return nil, ("%s: '%s' must be %s, got %s"):format(where, field, what, describe(v))
end

-- Each spec {passed, field, "what it must be"} in turn: true or nil, the first failure.
local function all_of(obj, where, specs)
  for _, c in ipairs(specs) do
    local ok, err = want(c[1], where, c[2], c[3], obj[c[2]])
    if not ok then return nil, err end
  end
  return true
end

local function opt_string(v) return v == nil or type(v) == "string" end
local function name_string(v) return type(v) == "string" and v ~= "" end
local function opt_bool(v) return v == nil or type(v) == "boolean" end
local function opt_int(v, min)
  return v == nil or (math.tointeger(v) ~= nil and v >= (min or math.mininteger))
end

local function name_list(v, nonempty)
  if not M.is_list(v) or (nonempty and #v == 0) then return false end
  for _, x in ipairs(v) do if not name_string(x) then return false end end
  return true
end

-- Every field as it should be (what the checks below require), without building a
-- message: a cache-hit request checks every column of the tables it reads.
local function column_ok(c)
  if not (is_object(c) and name_string(c.name) and opt_int(c.position, 1) and opt_string(c.type)
          and opt_bool(c.nullable) and opt_string(c.default) and opt_bool(c.generated)
          and opt_string(c.comment)) then
    return false
  end
  for k in pairs(c) do
    if not COLUMN_SET[k] then return false end
  end
  return true
end

local function check_column(c, where, i)
  if column_ok(c) then return true end
  where = ("%s: column #%d"):format(where, i)
  local ok, err = fields(c, COLUMN_SET, COLUMN_FIELDS, where)
  if not ok then return nil, err end
  ok, err = want(name_string(c.name), where, "name", "a non-empty string", c.name)
  if not ok then return nil, err end
  where = ("%s (%s)"):format(where, c.name)
  ok, err = all_of(c, where, {
    {opt_int(c.position, 1), "position", "a whole number >= 1"},
    {opt_string(c.type), "type", "a string"},
    {opt_bool(c.nullable), "nullable", "true or false"},
    {opt_string(c.default), "default", "a string (the default expression)"},
    {opt_bool(c.generated), "generated", "true or false"},
    {opt_string(c.comment), "comment", "a string"},
  })
  if not ok then return nil, err end
  return true
end

--- Check one foreign key object (as in a table's foreign_keys, or either list of a
--- {outgoing, incoming} pair): true or nil, message.
function M.check_foreign_key(fk, where)
  local ok, err = fields(fk, FK_SET, FK_FIELDS, where)
  if not ok then return nil, err end
  ok, err = all_of(fk, where, {
    {opt_string(fk.name), "name", "a string"},
    {opt_string(fk.schema), "schema", "a string"},
    {opt_string(fk.table), "table", "a string"},
    {name_list(fk.columns, true), "columns", "a non-empty list of column names"},
    {opt_string(fk.ref_schema), "ref_schema", "a string"},
    {name_string(fk.ref_table), "ref_table", "a non-empty string"},
    {name_list(fk.ref_columns, true), "ref_columns", "a non-empty list of column names"},
  })
  if not ok then return nil, err end
  if #fk.columns ~= #fk.ref_columns then
    return nil, ("%s: 'columns' has %d names but 'ref_columns' %d"):format(where, #fk.columns, #fk.ref_columns)
  end
  return true
end

--- Check statistics {rows=, partition_column=, lower=, upper=}: true or nil, message.
function M.check_stats(st, where)
  local ok, err = fields(st, STATS_SET, STATS_FIELDS, where)
  if not ok then return nil, err end
  ok, err = all_of(st, where, {
    {opt_int(st.rows, 0), "rows", "a whole number >= 0"},
    {opt_string(st.partition_column), "partition_column", "a string"},
    {opt_int(st.lower), "lower", "a whole number"},
    {opt_int(st.upper), "upper", "a whole number"},
  })
  if not ok then return nil, err end
  return true
end

--- Check one table of a snapshot. `where` prefixes messages ("schema snapshot F:
--- table #3"); the table's name replaces the number once known. true or nil, message.
function M.check_table(t, where)
  local ok, err = fields(t, TABLE_SET, TABLE_FIELDS, where)
  if not ok then return nil, err end
  ok, err = want(name_string(t.name), where, "name", "a non-empty string", t.name)
  if not ok then return nil, err end
  ok, err = want(t.schema == nil or name_string(t.schema), where, "schema", "a non-empty string", t.schema)
  if not ok then return nil, err end
  where = where:gsub("table #%d+$", "") .. "table " .. (t.schema or "public") .. "." .. t.name
  if t.kind ~= nil and not M.KINDS[t.kind] then
    local kinds = util.sorted_keys(M.KINDS)
    if type(t.kind) ~= "string" then return want(false, where, "kind", "one of " .. table.concat(kinds, ", "), t.kind) end
    return nil, ("%s: unknown kind '%s'%s"):format(where, t.kind, util.suggest(t.kind, kinds))
  end
  ok, err = all_of(t, where, {
    {opt_string(t.comment), "comment", "a string"},
    {opt_int(t.rows, 0), "rows", "a whole number >= 0"},
    {t.columns == nil or M.is_list(t.columns), "columns", "a list"},
    {t.primary_key == nil or name_list(t.primary_key), "primary_key", "a list of column names"},
    {t.foreign_keys == nil or M.is_list(t.foreign_keys), "foreign_keys", "a list"},
  })
  if not ok then return nil, err end
  local names = {}
  for i, c in ipairs(t.columns or {}) do
    ok, err = check_column(c, where, i)
    if not ok then return nil, err end
    names[c.name] = true
  end
  for _, k in ipairs(t.primary_key or {}) do
    if not names[k] then
      return nil, ("%s: primary key column '%s' is not one of its columns"):format(where, k)
    end
  end
  for i, fk in ipairs(t.foreign_keys or {}) do
    ok, err = M.check_foreign_key(fk, ("%s: foreign key #%d"):format(where, i))
    if not ok then return nil, err end
  end
  if t.stats ~= nil then
    ok, err = M.check_stats(t.stats, where .. ": stats")
    if not ok then return nil, err end
  end
  return true
end

--- Check {outgoing = {fk...}, incoming = {fk...}} (a cached foreign-key sidecar).
function M.check_relations(rel, where)
  if not is_object(rel) then return nil, ("%s: expected an object, got %s"):format(where, describe(rel)) end
  for _, dir in ipairs({"outgoing", "incoming"}) do
    local list = rel[dir]
    if not M.is_list(list) then return want(false, where, dir, "a list", list) end
    for i, fk in ipairs(list) do
      local ok, err = M.check_foreign_key(fk, ("%s: %s #%d"):format(where, dir, i))
      if not ok then return nil, err end
    end
  end
  return true
end

return M

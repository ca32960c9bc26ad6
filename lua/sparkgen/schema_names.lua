-- schema_names.lua — table names: PostgreSQL quoting, parsing a reference (`name`,
-- `schema.name`, quoted identifiers) and resolving it against a catalog, with the
-- closest names when nothing matches. Pure functions: no files, no database.
local util = require "sparkgen.util"

local M = {}

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


--- The map key of a table: schema and name joined by a NUL.
function M.key(schema, name) return schema .. "\0" .. name end

--- The table of `list` that lives in `schema`, or nil.
function M.find_in(list, schema)
  for _, t in ipairs(list) do
    if t.schema == schema then return t end
  end
end

-- An unqualified name: public first, else the one table of that name in any schema.
local function unqualified(named, name)
  local list = named(name)
  if #list == 0 then return nil end
  local t = M.find_in(list, "public")
  if t then return t end
  if #list == 1 then return list[1] end
  local shown = {}
  for i, x in ipairs(list) do shown[i] = M.qualified(x) end
  table.sort(shown)
  return nil, ("table name '%s' is ambiguous: %s (use schema.name)"):format(name, table.concat(shown, ", "))
end

--- Resolve a reference string against a catalog seen through named(name) → the tables
--- called exactly `name` (every schema). Returns the table; nil, message for a bad or
--- ambiguous reference; nil, nil when no table matches.
function M.resolve(ref, named)
  local parts, perr = M.parse_name(ref)
  if not parts then return nil, perr end
  if #parts == 2 then
    for _, sname in ipairs(spellings(parts[1])) do
      for _, tname in ipairs(spellings(parts[2])) do
        local t = M.find_in(named(tname), sname)
        if t then return t end
      end
    end
    -- A dotted unquoted string may also be one table name that contains a dot.
    if not parts[1].quoted and not parts[2].quoted then
      local t = unqualified(named, ref)
      if t then return t end
    end
  else
    for _, tname in ipairs(spellings(parts[1])) do
      local t, err = unqualified(named, tname)
      if t then return t end
      if err then return nil, err end
    end
  end
  return nil, nil
end

--- The message for a reference that matched nothing: `index` lists every table
--- ({schema=, name=}), `where` says where the schema came from.
function M.not_found(ref, index, where)
  local candidates, seen = {}, {}
  for _, e in ipairs(index) do
    for _, c in ipairs({e.name, e.schema .. "." .. e.name}) do
      if not seen[c] then
        seen[c] = true
        candidates[#candidates + 1] = c
      end
    end
  end
  return ("no table '%s' in the schema (%s)%s"):format(ref, where, util.suggest(ref, candidates))
end

return M

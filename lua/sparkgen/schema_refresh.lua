-- schema_refresh.lua — a fresh schema when it matters: after generated code failed on
-- a table or column the database does not have (Spark at run time, a plan check), and
-- the schema came from the cached snapshot, read the catalog again once and say what
-- changed in the tables the code reads. exec calls it; a plan check can too.
local schema = require "sparkgen.schema"
local util = require "sparkgen.util"

local M = {}

-- How Spark (and PostgreSQL through JDBC) say a name does not exist.
local UNRESOLVED = {"UNRESOLVED_COLUMN", "TABLE_OR_VIEW_NOT_FOUND", "FIELD_NOT_FOUND",
                    "[Cc]annot resolve", "[Tt]able or view not found",
                    'column "[^"]*" does not exist', 'relation "[^"]*" does not exist'}

--- Whether an error text says a table or column the code names does not exist.
function M.is_unresolved(text)
  for _, pat in ipairs(UNRESOLVED) do
    if tostring(text or ""):find(pat) then return true end
  end
  return false
end

local function change_lines(d)
  local lines = {}
  for _, k in ipairs(d.removed) do lines[#lines + 1] = k .. " is gone" end
  for _, ch in ipairs(d.changed) do
    local bits = {}
    for _, c in ipairs(ch.removed_columns) do bits[#bits + 1] = "- " .. c end
    for _, c in ipairs(ch.added_columns) do bits[#bits + 1] = "+ " .. c end
    for _, c in ipairs(ch.changed_columns) do bits[#bits + 1] = "~ " .. c.name end
    lines[#lines + 1] = ("%s: %s"):format(ch.table, #bits > 0 and table.concat(bits, ", ") or "keys or kind changed")
  end
  return lines
end

--- After generated code failed on a table or column that does not exist (err_text from
--- Spark, a plan check, the database): when the schema came from the cached snapshot,
--- read the catalog again — once per process — and say what changed in the tables the
--- result reads. The fresh snapshot replaces the cached one, so the next generation
--- uses it. Returns nil when this does not apply (another error, a snapshot file, a
--- schema read just now), else {message=, changed = bool, diff=}.
function M.after_failure(cfg, result, err_text)
  if not M.is_unresolved(err_text) then return nil end
  local generator = require "sparkgen.generator"
  local S = generator.schema(cfg)
  if not S or not S.cached or S.refreshed_after_failure then return nil end
  local age = S:describe_age() or "cached"
  -- The old tables first: the cache is read lazily, and the refresh rewrites it.
  local before = {}
  for _, name in ipairs(result and result.tables_used or {}) do before[#before + 1] = S:table(name) end
  local fresh_cfg = util.copy(cfg)
  fresh_cfg.refresh = true
  local F, ferr = schema.open(fresh_cfg)
  if not F then
    return {changed = false, message = ("the code names a table or column the database lacks and the schema was a "
      .. "cached snapshot (%s), but reading the catalog again failed: %s"):format(age, tostring(ferr))}
  end
  F.refreshed_after_failure = true
  -- Later generations in this process (and every later process: the cache was
  -- rewritten) see the fresh catalog.
  generator.replace_schema(S, F)
  local after = {}
  for _, name in ipairs(result and result.tables_used or {}) do after[#after + 1] = F:table(name) end
  local d = schema.diff(schema.from_tables(before), schema.from_tables(after))
  local lines = change_lines(d)
  if #lines == 0 then
    return {changed = false, diff = d, message = ("the code names a table or column the database lacks; the "
      .. "schema was a cached snapshot (%s), so sparkgen read the catalog again: the tables it reads have not "
      .. "changed, so the generated code itself is wrong"):format(age)}
  end
  return {changed = true, diff = d, message = ("the code names a table or column the database lacks; the schema "
    .. "was a cached snapshot (%s), so sparkgen read the catalog again, and it changed: %s. Generate again to use "
    .. "the fresh snapshot"):format(age, table.concat(lines, "; "))}
end

return M

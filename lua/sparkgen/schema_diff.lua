-- schema_diff.lua — what changed between two schemas: tables added and removed,
-- and per table its kind, columns, primary key and foreign keys.
local util = require "sparkgen.util"
local names = require "sparkgen.schema_names"

local M = {}

local function by_key(S)
  local map, keys = {}, {}
  for _, t in ipairs(S:tables()) do
    local k = names.qualified(t)
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

return M
-- value_between — a numeric column stays inside bounds (rates between 0 and 1,
-- percentages up to 100). Nulls are left to not_null.

-- The shortest text that reads back as the same number (0.1, not 0.10000000000000001).
local function number(x)
  for digits = 15, 17 do
    local s = ("%." .. digits .. "g"):format(x)
    if tonumber(s) == x then return s end
  end
  return ("%.17g"):format(x)
end

return {
  name = "value_between",
  summary = "Every non-null value of a numeric column lies between min and max (inclusive)",
  params = {
    column = {type = "string", required = true, doc = "the numeric column"},
    min = {type = "number", doc = "smallest allowed value"},
    max = {type = "number", doc = "largest allowed value"},
  },
  describe = function(p)
    if not p.min and not p.max then error("give min, max or both", 0) end
    if p.min and p.max then return ("Every value of %s lies between %s and %s."):format(p.column, number(p.min), number(p.max)) end
    if p.min then return ("Every value of %s is at least %s."):format(p.column, number(p.min)) end
    return ("Every value of %s is at most %s."):format(p.column, number(p.max))
  end,
  pyspark = function(p, py)
    local conds = {}
    if p.min then conds[#conds + 1] = ("(%s < %s)"):format(py.col(p.column), number(p.min)) end
    if p.max then conds[#conds + 1] = ("(%s > %s)"):format(py.col(p.column), number(p.max)) end
    if #conds == 0 then error("give min, max or both", 0) end
    return ("df.filter(%s).count()"):format(table.concat(conds, " | "))
  end,
}

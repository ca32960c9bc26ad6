-- date_range — dates (or timestamps, compared by their date) fall inside bounds: fixed
-- dates (min, max; inclusive) or the request's period (period + as_of, usually
-- period = "$(time_period)", as_of = "$(as_of)"), whose end is exclusive as in the body.
-- Nulls are left to not_null.
local function bounds(p, py)
  local lo, hi = p.min, p.max
  if p.period then
    local s, e = py.period_bounds(p.period, p.as_of)
    if s then
      lo = (lo and lo > s) and lo or s
      local last = py.day_before(e)
      hi = (hi and hi < last) and hi or last
    end
  end
  return lo, hi
end

return {
  name = "date_range",
  summary = "Every non-null date of a column lies within bounds (fixed dates or the request's period)",
  params = {
    column = {type = "string", required = true, doc = "a date or timestamp column"},
    min = {type = "date", doc = "earliest allowed date (inclusive)"},
    max = {type = "date", doc = "latest allowed date (inclusive)"},
    period = {type = "enum", values = {"last_7_days", "last_30_days", "last_month", "last_90_days",
              "last_quarter", "month_to_date", "ytd", "all"}, doc = "a named period (needs as_of)"},
    as_of = {type = "date", doc = "reference date of the period"},
  },
  describe = function(p, py)
    if p.period and not p.as_of then error("period needs as_of", 0) end
    if not p.period and not p.min and not p.max then error("give min, max or period", 0) end
    local lo, hi = bounds(p, py)
    local where = p.period and (" (%s as of %s)"):format(p.period, p.as_of) or ""
    if lo and hi then return ("Every %s lies between %s and %s inclusive%s."):format(p.column, lo, hi, where) end
    if lo then return ("Every %s is on or after %s%s."):format(p.column, lo, where) end
    if hi then return ("Every %s is on or before %s%s."):format(p.column, hi, where) end
    return ("Every %s is accepted: period %s has no bounds."):format(p.column, p.period)
  end,
  pyspark = function(p, py)
    if p.period and not p.as_of then error("period needs as_of", 0) end
    local lo, hi = bounds(p, py)
    -- to_date makes a timestamp compare by its day, so max is inclusive for both types.
    local d = "F.to_date(" .. py.col(p.column) .. ")"
    local conds = {}
    if lo then conds[#conds + 1] = ("(%s < F.lit(%s))"):format(d, py.date(lo)) end
    if hi then conds[#conds + 1] = ("(%s > F.lit(%s))"):format(d, py.date(hi)) end
    if #conds == 0 then return "0" end
    return ("df.filter(%s).count()"):format(table.concat(conds, " | "))
  end,
}

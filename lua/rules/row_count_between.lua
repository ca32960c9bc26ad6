-- row_count_between — the result's size is plausible (e.g. a top-N never has more
-- than N rows). Yields 1 when the count is outside the bounds, else 0.
return {
  name = "row_count_between",
  summary = "The number of rows lies between min and max (inclusive)",
  params = {
    min = {type = "integer", min = 0, doc = "fewest rows allowed"},
    max = {type = "integer", min = 0, doc = "most rows allowed"},
  },
  describe = function(p)
    if not p.min and not p.max then error("give min, max or both", 0) end
    if p.min and p.max then
      if p.min > p.max then error(("min %d is greater than max %d"):format(p.min, p.max), 0) end
      return ("The result has between %d and %d rows."):format(p.min, p.max)
    end
    if p.min then return ("The result has at least %d rows."):format(p.min) end
    return ("The result has at most %d rows."):format(p.max)
  end,
  pyspark = function(p)
    local conds = {}
    if p.min then conds[#conds + 1] = ("%d <= n"):format(p.min) end
    if p.max then conds[#conds + 1] = ("n <= %d"):format(p.max) end
    if #conds == 0 then error("give min, max or both", 0) end
    -- A lambda binds the count once inside a single expression.
    return ("(lambda n: 0 if %s else 1)(df.count())"):format(table.concat(conds, " and "))
  end,
}

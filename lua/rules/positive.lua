-- positive — amounts and counts are above zero (or at least zero with allow_zero).
-- Nulls are left to not_null, so a row with no value is not counted here.
return {
  name = "positive",
  summary = "Every non-null value of a column is greater than zero (or >= 0 with allow_zero)",
  params = {
    column = {type = "string", required = true, doc = "the numeric column"},
    allow_zero = {type = "boolean", default = false, doc = "accept 0 as well"},
  },
  describe = function(p)
    if p.allow_zero then return ("Every value of %s is zero or more."):format(p.column) end
    return ("Every value of %s is greater than zero."):format(p.column)
  end,
  pyspark = function(p, py)
    return ("df.filter(%s %s 0).count()"):format(py.col(p.column), p.allow_zero and "<" or "<=")
  end,
}

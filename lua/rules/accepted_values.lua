-- accepted_values — a categorical column holds only the known values (a new or
-- misspelt category shows up here). Nulls are left to not_null.
return {
  name = "accepted_values",
  summary = "Every non-null value of a column is one of a given list",
  params = {
    column = {type = "string", required = true, doc = "the column"},
    values = {type = "list", required = true, doc = "the allowed values"},
  },
  describe = function(p)
    return ("Every value of %s is one of: %s."):format(p.column, table.concat(p.values, ", "))
  end,
  pyspark = function(p, py)
    return ("df.filter(~%s.isin(%s)).count()"):format(py.col(p.column), py.list(p.values))
  end,
}

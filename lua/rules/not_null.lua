-- not_null — key and required columns never hold null.
return {
  name = "not_null",
  summary = "The given columns are never null",
  params = {
    columns = {type = "list", required = true, doc = "columns that must not be null"},
  },
  describe = function(p, py)
    if #p.columns == 1 then return ("Column %s is never null."):format(p.columns[1]) end
    return ("Columns %s are never null."):format(py.join(p.columns))
  end,
  pyspark = function(p, py)
    local conds = {}
    for i, c in ipairs(p.columns) do conds[i] = py.col(c) .. ".isNull()" end
    return ("df.filter(%s).count()"):format(table.concat(conds, " | "))
  end,
}

-- required_columns — the result carries every column of its output contract.
return {
  name = "required_columns",
  summary = "The result has all of the given columns",
  params = {
    columns = {type = "list", required = true, doc = "column names the result must have"},
  },
  describe = function(p)
    return ("The result has the column%s %s."):format(#p.columns > 1 and "s" or "", table.concat(p.columns, ", "))
  end,
  pyspark = function(p, py)
    -- Counts missing columns (not rows): any missing column fails the check.
    return ("len([c for c in %s if c not in df.columns])"):format(py.list(p.columns))
  end,
}

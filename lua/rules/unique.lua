-- unique — a key identifies one row: the classic symptom of fan-out is a key that
-- repeats after a join.
return {
  name = "unique",
  summary = "No two rows share the same values in the given columns",
  params = {
    columns = {type = "list", required = true, doc = "the key columns"},
  },
  describe = function(p, py)
    if #p.columns == 1 then return ("Each value of %s appears in at most one row."):format(p.columns[1]) end
    return ("Each combination of %s appears in at most one row."):format(py.join(p.columns))
  end,
  pyspark = function(p, py)
    -- Rows beyond the first of each key: 0 when the key is unique.
    local cols = {}
    for i, c in ipairs(p.columns) do cols[i] = py.col(c) end
    return ("df.count() - df.select(%s).distinct().count()"):format(table.concat(cols, ", "))
  end,
}

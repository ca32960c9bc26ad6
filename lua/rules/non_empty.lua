-- non_empty — the result has at least one row (an empty result usually means a wrong
-- filter or join, not "no sales").
return {
  name = "non_empty",
  summary = "The result has at least one row",
  params = {},
  describe = function()
    return "The result has at least one row."
  end,
  pyspark = function()
    -- limit(1) stops Spark after the first row instead of counting them all.
    return "(1 if df.limit(1).count() == 0 else 0)"
  end,
}

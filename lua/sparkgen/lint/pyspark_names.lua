-- lint/pyspark_names.lua — what a body may reach through the names the job gives it:
-- an ALLOW-LIST of members of pyspark.sql.functions (F), pyspark.sql.types (T) and
-- Window, and of the session's attributes. M.members(api) is the set for "F", "T" or
-- "Window".
--
-- Generated once from pyspark 4.3.0 (the venv: `dir(module)`, public names that are not
-- modules — F.sys, F.inspect, T.os and T.ctypes are modules those files import, and
-- reach the whole interpreter), then curated: F's UDF constructors (udf, pandas_udf,
-- udtf, arrow_udf, arrow_udtf) are left out (they ship Python to the executors: finding
-- python-udf), and so are F's typing helpers; T keeps its data types, Row and
-- StructField (not UserDefinedType: its serializer is Python run on executors, nor
-- CloudPickleSerializer, the converters or the typing helpers). The SQL twins that
-- lint/sql_functions.lua excludes (F.reflect, F.xpath, ...) are in F's list and refused
-- by that file's rule, with its reason.
local M = {}

-- F's members are the SQL functions of lint/sql_functions.lua (allowed and excluded)
-- that pyspark has a Python function for, plus the Python-only ones: F.col, F.lit, ...
M.F_python_only = {
  "approxCountDistinct", "asc", "asc_nulls_first", "asc_nulls_last", "bitwiseNOT",
  "bitwise_not", "broadcast", "bucket", "call_function", "call_udf", "col", "column",
  "countDistinct", "count_distinct", "create_map", "days", "desc", "desc_nulls_first",
  "desc_nulls_last", "expr", "hours", "listagg_distinct", "lit", "months", "negate",
  "product", "shiftLeft", "shiftRight", "shiftRightUnsigned", "string_agg_distinct",
  "sumDistinct", "sum_distinct", "timestamp_add", "timestamp_diff", "toDegrees",
  "toRadians", "unwrap_udt", "years"
}

-- SQL functions (allowed or excluded) that pyspark.sql.functions does not have.
M.F_sql_only = {
  "and", "any", "approx_top_k", "approx_top_k_accumulate", "approx_top_k_combine",
  "approx_top_k_estimate", "as_of", "between", "bigint", "binary", "boolean", "case",
  "collations", "date", "decimal", "div", "double", "float", "from_avro",
  "from_protobuf", "if", "in", "int", "len", "localtime", "luhn_check", "map",
  "measure", "mod", "my_udf", "not", "or", "percentile_cont", "percentile_disc",
  "python_worker_logs", "range", "schema_of_avro", "smallint", "space", "sql_keywords",
  "string", "time", "timestamp", "tinyint", "to_avro", "to_protobuf", "variant_explode",
  "variant_explode_outer"
}

M.T = {
  "AnsiIntervalType", "AnyTimeType", "ArrayType", "AtomicType", "BinaryType",
  "BooleanType", "ByteType", "CalendarIntervalType", "CharType", "DataType", "DateType",
  "DatetimeType", "DayTimeIntervalType", "DecimalType", "DoubleType", "FloatType",
  "FractionalType", "Geography", "GeographyType", "Geometry", "GeometryType",
  "IntegerType", "IntegralType", "LongType", "MapType", "NullType", "NumericType",
  "Row", "ShortType", "SpatialType", "StringType", "StructField", "StructType",
  "TimeType", "TimestampNTZType", "TimestampType", "Type", "VarcharType", "VariantType",
  "VariantVal", "YearMonthIntervalType"
}

M.Window = {
  "currentRow", "orderBy", "partitionBy", "rangeBetween", "rowsBetween",
  "unboundedFollowing", "unboundedPreceding"
}

-- Python functions that construct UDFs (finding python-udf).
M.udf_constructors = {"udf", "pandas_udf", "udtf", "arrow_udf", "arrow_udtf"}

-- The session attributes a body may use when a team's job gives it `spark`
-- (lint.allow_names = {"spark"}): SQL over registered views and small literal frames.
M.spark = {"sql", "createDataFrame", "range"}

--- The set of members of `api` ("F", "T" or "Window") a body may use.
function M.members(api)
  if api ~= "F" then
    local set = {}
    for _, n in ipairs(M[api] or {}) do set[n] = true end
    return set
  end
  local SQL = require "sparkgen.lint.sql_functions"
  local set = {}
  for _, n in ipairs(SQL.functions) do set[n] = true end
  for n in pairs(SQL.excluded) do set[n] = true end
  for _, n in ipairs(M.F_sql_only) do set[n] = nil end
  for _, n in ipairs(M.F_python_only) do set[n] = true end
  return set
end

return M

-- tests/spark/jdbc_env.lua CONNINFO — prints the environment spark.lua gives a job for
-- this libpq connection (NAME=value lines), so the shared-session tests read PostgreSQL
-- exactly the way `sparkgen exec` makes jobs read it.
local spark = require "sparkgen.spark"
local util = require "sparkgen.util"
local jdbc = assert(spark.jdbc({db = arg[1]}))
local env = spark.environment({spark = {master = "local[2]"}}, jdbc)
for _, k in ipairs(util.sorted_keys(env)) do
  if env[k] and k:match("^SPARKGEN_JDBC_") then print(k .. "=" .. env[k]) end
end

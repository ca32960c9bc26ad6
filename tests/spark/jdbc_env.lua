-- tests/spark/jdbc_env.lua CONNINFO DIR [REMOTE] — writes the credentials hand-over
-- spark.lua gives a job for this libpq connection (and Spark Connect URL) into DIR (a
-- private directory) and prints its path, so the shared-session tests read PostgreSQL
-- exactly the way `sparkgen exec` makes jobs read it.
local spark = require "sparkgen.spark"
local jdbc = assert(spark.jdbc({db = arg[1]}))
print(assert(spark.write_handoff(arg[2], jdbc, arg[3])))

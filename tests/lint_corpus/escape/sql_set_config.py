# expect: sql-not-select line=4
# SET changes the session's configuration.
o = read_table("orders")
spark.sql("SET spark.sql.legacy.allowUntypedScalaUDF=true")
result_df = o

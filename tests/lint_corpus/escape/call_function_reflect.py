# expect: forbidden-sql-function line=4
# call_function takes a SQL function name.
o = read_table("orders")
result_df = o.withColumn("x", F.call_function("`reflect`", F.lit("java.lang.System"), F.lit("getenv"), F.lit("PGPASSWORD")))

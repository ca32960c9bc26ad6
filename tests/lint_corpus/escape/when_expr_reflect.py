# expect: forbidden-sql-function line=4
# expr inside F.when.
o = read_table("orders")
result_df = o.withColumn("x", F.when(F.expr("reflect('java.lang.System', 'getenv', 'PGPASSWORD') IS NULL"), 1))

# expect: forbidden-sql-function line=4
# try_reflect through F.expr.
o = read_table("orders")
result_df = o.withColumn("x", F.expr("try_reflect('java.lang.System', 'getenv', 'PGPASSWORD')"))

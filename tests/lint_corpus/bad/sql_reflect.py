# expect: forbidden-sql-function line=3
orders = read_table("orders")
result_df = orders.withColumn("x", F.expr("reflect('java.lang.Runtime', 'getRuntime')"))

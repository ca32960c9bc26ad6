# expect: sql-unreadable line=3
orders = read_table("orders")
result_df = orders.withColumn("flag", F.expr(params["rule"]))

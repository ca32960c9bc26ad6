orders = read_table("orders")
result_df = orders.groupBy(F.trunc("order_date", "month").alias("month")).agg(F.count("*").alias("orders"))

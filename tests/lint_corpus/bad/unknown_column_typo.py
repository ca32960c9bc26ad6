# expect: unknown-column line=3 suggest=total_amount
orders = read_table("orders")
result_df = orders.groupBy("customer_id").agg(F.sum("totl_amount").alias("spent"))

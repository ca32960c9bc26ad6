orders = read_table("orders")
result_df = orders.select("order_id", (-F.col("total_amount")).alias("refund"))

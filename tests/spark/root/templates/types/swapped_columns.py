orders = read_table("orders")
result_df = orders.groupBy("customer_id").agg(
    F.round(F.avg("total_amount"), 2).alias("orders"),
    F.count("*").alias("avg_order_value"),
)

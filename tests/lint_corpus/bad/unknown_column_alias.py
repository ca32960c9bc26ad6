# expect: unknown-column line=5 message="is not in customers"
o = read_table("orders").alias("o")
c = read_table("customers").alias("c")
result_df = o.join(c, F.col("o.customer_id") == F.col("c.customer_id"), how="inner") \
    .select(F.col("c.total_amount"), F.col("o.order_id"))

# expect: unknown-column line=4 message="it is in orders"
orders = read_table("orders")
customers = read_table("customers")
recent_customers = customers.filter(F.col("order_date") > F.lit("2026-01-01"))
result_df = recent_customers.join(orders, on="customer_id", how="inner")

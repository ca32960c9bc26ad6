# expect: unknown-column line=3 suggest=quantity
items = read_table("order_items")
result_df = items.groupBy("product_id").agg({"quantty": "sum"})

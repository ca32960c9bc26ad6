# expect: unknown-column line=4 suggest=customer_id
orders = read_table("orders")
customers = read_table("customers")
result_df = orders.join(customers, on="custmer_id", how="left")

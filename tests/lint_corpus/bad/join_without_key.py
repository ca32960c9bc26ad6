# expect: join-without-key line=5
orders = read_table("orders")
customers = read_table("customers")
result_df = (orders
    .join(customers, how="inner"))

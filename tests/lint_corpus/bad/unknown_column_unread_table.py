# expect: unknown-column line=4 message="exists in customers, which the code does not read"
orders = read_table("orders")
result_df = orders.select(
    "order_id", F.col("email"))

# expect: syntax-error line=4
orders = read_table("orders")
big = orders.filter(F.col("total_amount") > 0)
result_df = big.select("order_id"))

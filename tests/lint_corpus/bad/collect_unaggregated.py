# expect: collect-unaggregated line=4
orders = read_table("orders")
big = orders.filter(F.col("total_amount") > 100)
rows = big.collect()
result_df = big

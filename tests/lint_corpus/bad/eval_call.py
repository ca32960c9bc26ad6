# expect: forbidden-call line=3
orders = read_table("orders")
threshold = eval(params.get("threshold", "100"))
result_df = orders.filter(F.col("total_amount") > threshold)

# expect: forbidden-call line=4
orders = read_table("orders")
result_df = orders
spark.stop()

# expect: write-forbidden line=4
orders = read_table("orders")
result_df = orders.filter(F.col("total_amount") > 100)
result_df.write.mode("overwrite").saveAsTable("big_orders")

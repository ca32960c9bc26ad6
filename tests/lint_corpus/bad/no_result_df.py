# expect: no-result-df line=4
orders = read_table("orders")
totals = orders.groupBy("customer_id").agg(F.sum("total_amount").alias("spent"))

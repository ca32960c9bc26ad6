# expect: forbidden-read line=2
orders = spark.table("orders")
result_df = orders

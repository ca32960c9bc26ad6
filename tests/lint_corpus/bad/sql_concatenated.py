# expect: sql-unreadable line=3
orders = read_table("orders")
spark.sql("DR" + "OP TABLE orders")
result_df = orders

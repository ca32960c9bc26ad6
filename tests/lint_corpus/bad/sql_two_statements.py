# expect: sql-not-select line=4
orders = read_table("orders")
orders.createOrReplaceTempView("orders_v")
result_df = spark.sql("SELECT * FROM orders_v; DELETE FROM orders_v")

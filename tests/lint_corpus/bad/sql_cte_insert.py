# expect: sql-not-select line=4
orders = read_table("orders")
orders.createOrReplaceTempView("orders_v")
spark.sql("WITH x AS (SELECT * FROM orders_v) INSERT INTO archive SELECT * FROM x")
result_df = orders

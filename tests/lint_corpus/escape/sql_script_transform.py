# expect: sql-not-select line=5
# TRANSFORM ... USING runs a shell command on the executors.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT TRANSFORM(order_id) USING 'env' AS (line) FROM o")

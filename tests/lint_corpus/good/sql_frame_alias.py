# A spark.sql result under a DataFrame alias: its columns come from the SQL text.
read_table("orders").createOrReplaceTempView("o")
s = spark.sql("SELECT customer_id, SUM(total_amount) spent FROM o GROUP BY customer_id").alias("s")
c = read_table("customers").alias("c")
result_df = c.join(s, F.col("s.customer_id") == F.col("c.customer_id"), "inner").select(F.col("s.spent"), "name")

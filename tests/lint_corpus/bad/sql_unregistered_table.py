# expect: forbidden-read line=2
result_df = spark.sql("SELECT customer_id, SUM(total_amount) AS spent FROM orders GROUP BY customer_id")

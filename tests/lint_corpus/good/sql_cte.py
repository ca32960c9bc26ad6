# The SQL reads only views registered from read_table frames.
read_table("orders").createOrReplaceTempView("orders_v")
read_table("customers").createOrReplaceTempView("customers_v")

result_df = spark.sql("""
    WITH spend AS (
        SELECT customer_id, SUM(total_amount) AS total_spent, COUNT(*) AS order_count
        FROM orders_v
        GROUP BY customer_id
    ), joined AS (
        SELECT c.customer_id, c.name, s.total_spent, s.order_count
        FROM customers_v c
        JOIN spend s ON s.customer_id = c.customer_id
    )
    SELECT * FROM joined WHERE total_spent > 0  -- drop nothing else
""").withColumn("avg_order", F.col("total_spent") / F.col("order_count"))

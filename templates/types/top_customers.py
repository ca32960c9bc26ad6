# The customers who spent most on orders placed in the period. Spend comes from the
# order header (total_amount is the sum of the order's items), so order_items is not
# needed and cannot fan out. Orders are aggregated to one row per customer before the
# join, so customers (unique on customer_id) only adds the name.
start, end = period_bounds(params["time_period"], params["as_of"])

orders = read_table("$(tables.orders)").select("order_id", "customer_id", "order_date", "total_amount")
if start is not None:
    in_period = ((F.col("order_date") >= F.lit(start).cast("timestamp"))
                 & (F.col("order_date") < F.lit(end).cast("timestamp")))
    orders = orders.filter(in_period)

customers = read_table("$(tables.customers)").select("customer_id", "name")

spend = (
    orders
    .groupBy("customer_id")
    .agg(
        F.count("order_id").alias("order_count"),
        F.sum("total_amount").alias("total_spent"),
        F.min("order_date").alias("first_order_at"),
        F.max("order_date").alias("last_order_at"),
    )
)

# Ties in spend are broken by customer_id, so the ranking is the same on every run. The
# window has no partition: it ranks at most one row per customer, after aggregation.
by_spend = Window.orderBy(F.col("total_spent").desc(), F.col("customer_id").asc())

result_df = (
    spend
    .join(customers, on="customer_id", how="inner")
    .withColumn("rank", F.row_number().over(by_spend))
    .filter(F.col("rank") <= F.lit(params["limit"]))
    .select(
        F.col("rank").cast("int").alias("rank"),
        F.col("customer_id").cast("int").alias("customer_id"),
        F.col("name").cast("string").alias("name"),
        F.col("order_count").cast("long").alias("order_count"),
        F.col("total_spent").cast("decimal(18,2)").alias("total_spent"),
        F.round(F.col("total_spent") / F.col("order_count"), 2).cast("decimal(18,2)").alias("avg_order_value"),
        F.to_date("first_order_at").alias("first_order_date"),
        F.to_date("last_order_at").alias("last_order_date"),
    )
    .orderBy("rank")
)

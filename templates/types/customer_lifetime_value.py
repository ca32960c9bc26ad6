# Lifetime value to date: every customer who had joined by as_of, with what their
# orders placed up to and including as_of add up to. Customers without orders stay in
# the result with zero spend (a left join from customers), and orders are aggregated to
# one row per customer before the join so nothing is counted twice.
as_of = params["as_of"]
cutoff = as_of + timedelta(days=1)

customers = (
    read_table("$(tables.customers)")
    .select("customer_id", "name", "date_joined")
    .filter(F.col("date_joined") <= F.lit(as_of))
)

orders = (
    read_table("$(tables.orders)")
    .select("order_id", "customer_id", "order_date", "total_amount")
    .filter(F.col("order_date") < F.lit(cutoff).cast("timestamp"))
)

per_customer = (
    orders
    .groupBy("customer_id")
    .agg(
        F.count("order_id").alias("order_count"),
        F.sum("total_amount").alias("total_spent"),
        F.min("order_date").alias("first_order_at"),
        F.max("order_date").alias("last_order_at"),
    )
)

has_orders = F.col("order_count") > 0

result_df = (
    customers
    .join(per_customer, on="customer_id", how="left")
    .withColumn("order_count", F.coalesce(F.col("order_count"), F.lit(0)))
    .withColumn("total_spent", F.coalesce(F.col("total_spent"), F.lit(0)))
    .select(
        F.col("customer_id").cast("int").alias("customer_id"),
        F.col("name").cast("string").alias("name"),
        F.col("date_joined").alias("date_joined"),
        F.col("order_count").cast("long").alias("order_count"),
        F.col("total_spent").cast("decimal(18,2)").alias("total_spent"),
        F.when(has_orders, F.round(F.col("total_spent") / F.col("order_count"), 2))
         .cast("decimal(18,2)").alias("avg_order_value"),
        F.to_date("first_order_at").alias("first_order_date"),
        F.to_date("last_order_at").alias("last_order_date"),
        F.datediff(F.lit(as_of), F.col("date_joined")).cast("int").alias("tenure_days"),
        F.datediff(F.lit(as_of), F.to_date("last_order_at")).cast("int").alias("days_since_last_order"),
    )
    .orderBy(F.col("total_spent").desc(), F.col("customer_id").asc())
)

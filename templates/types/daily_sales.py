# Sales per calendar day (UTC) for the orders placed in the period; days without
# orders do not appear. order_items has several lines per order, so units are summed
# per order first: joining that one row per order keeps one row per order, and order
# counts and revenue (from the header's total_amount) are not multiplied.
start, end = period_bounds(params["time_period"], params["as_of"])

orders = read_table("$(tables.orders)").select("order_id", "customer_id", "order_date", "total_amount")
if start is not None:
    in_period = ((F.col("order_date") >= F.lit(start).cast("timestamp"))
                 & (F.col("order_date") < F.lit(end).cast("timestamp")))
    orders = orders.filter(in_period)

units_per_order = (
    read_table("$(tables.order_items)")
    .groupBy("order_id")
    .agg(F.sum("quantity").alias("units"))
)

daily = (
    orders
    .join(units_per_order, on="order_id", how="left")
    .withColumn("day", F.to_date("order_date"))
    .groupBy("day")
    .agg(
        F.count("order_id").alias("order_count"),
        F.count_distinct("customer_id").alias("customer_count"),
        F.sum(F.coalesce(F.col("units"), F.lit(0))).alias("units"),
        F.sum("total_amount").alias("revenue"),
    )
)

result_df = (
    daily
    .select(
        F.col("day").alias("day"),
        F.col("order_count").cast("long").alias("order_count"),
        F.col("customer_count").cast("long").alias("customer_count"),
        F.col("units").cast("long").alias("units"),
        F.col("revenue").cast("decimal(18,2)").alias("revenue"),
        F.round(F.col("revenue") / F.col("order_count"), 2).cast("decimal(18,2)").alias("avg_order_value"),
    )
    .orderBy("day")
)

# Revenue per category for the requested period; aggregate lines before any
# header-level join so order totals are never multiplied by their lines.
start, end = period_bounds(params["time_period"], params["as_of"])

orders = read_table("orders").alias("o")
items = read_table("order_items").alias("i")
products = read_table("products").alias("p")

recent = orders.filter((F.col("o.order_date") >= F.lit(start)) & (F.col("o.order_date") < F.lit(end)))

lines = (
    items.join(recent, F.col("i.order_id") == F.col("o.order_id"), how="inner")
    .join(products, F.col("i.product_id") == F.col("p.product_id"), how="inner")
    .withColumn("line_revenue", F.col("i.quantity") * F.col("i.unit_price"))
)

result_df = (
    lines.groupBy(F.col("p.category").alias("category"))
    .agg(
        F.sum("line_revenue").alias("revenue"),
        F.countDistinct("o.order_id").alias("orders"),
        F.sum("i.quantity").alias("units"),
    )
    .orderBy(F.desc("revenue"))
    .limit(params["limit"])
)

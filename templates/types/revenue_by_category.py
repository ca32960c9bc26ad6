# Revenue per product category from the items of the orders placed in the period.
# The item is the grain: each item belongs to one order and one product, so joining it
# to orders and products (unique keys) never multiplies rows. An order with several
# items in one category is counted once there, hence count_distinct.
start, end = period_bounds(params["time_period"], params["as_of"])

orders = read_table("$(tables.orders)").select("order_id", "order_date")
if start is not None:
    in_period = ((F.col("order_date") >= F.lit(start).cast("timestamp"))
                 & (F.col("order_date") < F.lit(end).cast("timestamp")))
    orders = orders.filter(in_period)

items = read_table("$(tables.order_items)").select("order_id", "product_id", "quantity", "unit_price")
products = read_table("$(tables.products)").select("product_id", "category")

lines = (
    items
    .join(orders, on="order_id", how="inner")
    .join(products, on="product_id", how="inner")
    .withColumn("line_amount", F.col("quantity") * F.col("unit_price"))
)

result_df = (
    lines
    .groupBy("category")
    .agg(
        F.sum("line_amount").alias("revenue"),
        F.count_distinct("order_id").alias("order_count"),
        F.sum("quantity").alias("units"),
    )
    .select(
        F.col("category").cast("string").alias("category"),
        F.col("revenue").cast("decimal(18,2)").alias("revenue"),
        F.col("order_count").cast("long").alias("order_count"),
        F.col("units").cast("long").alias("units"),
    )
    .orderBy(F.col("revenue").desc(), F.col("category").asc())
)

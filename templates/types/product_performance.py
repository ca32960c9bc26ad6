# Sales of every product over the orders placed in the period, best sellers first;
# products with no sales appear with zeros. Items are aggregated to one row per product
# before the join to products, so no product row is multiplied.
start, end = period_bounds(params["time_period"], params["as_of"])

orders = read_table("$(tables.orders)").select("order_id", "order_date")
if start is not None:
    in_period = ((F.col("order_date") >= F.lit(start).cast("timestamp"))
                 & (F.col("order_date") < F.lit(end).cast("timestamp")))
    orders = orders.filter(in_period)

products = read_table("$(tables.products)").select("product_id", "name", "category")

# A semi join keeps the items of orders in the period without adding order columns.
sold = (
    read_table("$(tables.order_items)")
    .select("order_id", "product_id", "quantity", "unit_price")
    .join(orders, on="order_id", how="left_semi")
    .groupBy("product_id")
    .agg(
        F.sum("quantity").alias("units_sold"),
        F.sum(F.col("quantity") * F.col("unit_price")).alias("revenue"),
        F.count_distinct("order_id").alias("order_count"),
    )
)

has_units = F.col("units_sold") > 0
# The share is of all products' revenue, so its window spans every row (30-odd rows
# after aggregation; one partition is fine).
all_products = Window.partitionBy()
# Ties in revenue are broken by product_id, so the ranking is the same on every run.
by_revenue = Window.orderBy(F.col("revenue").desc(), F.col("product_id").asc())

per_product = (
    products
    .join(sold, on="product_id", how="left")
    .withColumn("units_sold", F.coalesce(F.col("units_sold"), F.lit(0)))
    .withColumn("order_count", F.coalesce(F.col("order_count"), F.lit(0)))
    .withColumn("revenue", F.coalesce(F.col("revenue"), F.lit(0)).cast("decimal(18,2)"))
    .withColumn("total_revenue", F.sum("revenue").over(all_products))
    .withColumn("rank", F.row_number().over(by_revenue))
)

result_df = (
    per_product
    .filter(F.col("rank") <= F.lit(params["limit"]))
    .select(
        F.col("rank").cast("int").alias("rank"),
        F.col("product_id").cast("int").alias("product_id"),
        F.col("name").cast("string").alias("name"),
        F.col("category").cast("string").alias("category"),
        F.col("units_sold").cast("long").alias("units_sold"),
        F.col("order_count").cast("long").alias("order_count"),
        F.col("revenue").alias("revenue"),
        F.when(has_units, F.round(F.col("revenue") / F.col("units_sold"), 2))
         .cast("decimal(18,2)").alias("avg_unit_price"),
        F.when(F.col("total_revenue") > 0,
               F.round(F.col("revenue").cast("double") / F.col("total_revenue").cast("double"), 4))
         .cast("double").alias("revenue_share"),
    )
    .orderBy("rank")
)

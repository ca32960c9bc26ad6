import math
from decimal import Decimal

orders = read_table("orders")
items = read_table("order_items")

# A small driver-side number is fine: the frame is aggregated to one row first.
overall = orders.agg(F.sum("total_amount").alias("grand_total")).collect()[0]["grand_total"]
share = F.col("total_amount") / F.lit(float(overall or Decimal("1")))

per_order = items.groupBy("order_id").agg(F.sum(F.col("quantity") * F.col("unit_price")).alias("lines_total"))
counts = items.groupBy("product_id").count().withColumnRenamed("count", "times_ordered")

result_df = (
    orders.join(per_order, "order_id", "left")
    .withColumn("share", share)
    .withColumn("log_total", F.log(F.col("total_amount") + F.lit(math.e)))
    .select("order_id", "customer_id", "lines_total", "share", "log_total")
)

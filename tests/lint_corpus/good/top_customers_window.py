# Rank each customer's orders by amount and keep their best three.
orders = read_table("orders")
customers = read_table("customers")

by_amount = Window.partitionBy("customer_id").orderBy(F.col("total_amount").desc(), "order_id")

ranked = (
    orders.withColumn("rank", F.row_number().over(by_amount))
    .withColumn("running_total", F.sum("total_amount").over(
        Window.partitionBy("customer_id").orderBy("order_date")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)))
    .filter(F.col("rank") <= 3)
)

result_df = (
    ranked.join(customers, on="customer_id", how="inner")
    .select("customer_id", "name", "order_id", "total_amount", "rank", "running_total")
)

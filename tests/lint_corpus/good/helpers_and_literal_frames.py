# A helper applied to several frames, a tuple assignment and a small literal frame.
def with_month(df, column):
    return df.withColumn("month", F.date_trunc("month", F.col(column)))


orders, tickets = read_table("orders"), read_table("support_tickets")
targets = spark.createDataFrame([("2026-01-01", 100.0)], "target_month STRING, target DOUBLE")
label = ", ".join(["orders", "tickets"])

monthly_orders = with_month(orders, "order_date").groupBy("month").agg(F.count("*").alias("orders"))
monthly_tickets = with_month(tickets, "created_at").groupBy("month").agg(F.count("*").alias("tickets"))

result_df = (
    monthly_orders.join(monthly_tickets, on="month", how="left")
    .join(targets, F.col("month") == F.to_date(F.col("target_month")), how="left")
    .withColumn("label", F.lit(label))
    .select("month", "orders", "tickets", "target", "label")
)

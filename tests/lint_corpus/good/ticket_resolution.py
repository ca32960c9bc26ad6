tickets = read_table("support_tickets")

is_resolved = F.col("status") == "Resolved"
hours_open = (F.unix_timestamp("resolved_at") - F.unix_timestamp("created_at")) / 3600.0

result_df = (
    tickets.where("resolved_at IS NOT NULL AND status IN ('Resolved', 'Closed')")
    .withColumn("is_resolved", is_resolved)
    .withColumn("hours_open", hours_open)
    .groupBy("customer_id")
    .agg(
        F.count(F.lit(1)).alias("tickets"),
        F.avg("hours_open").alias("avg_hours_open"),
        F.max(F.when(F.col("is_resolved"), F.col("resolved_at"))).alias("last_resolved_at"),
    )
    .na.fill({"avg_hours_open": 0.0})
    .selectExpr("customer_id", "tickets", "round(avg_hours_open, 1) AS avg_hours", "last_resolved_at")
)

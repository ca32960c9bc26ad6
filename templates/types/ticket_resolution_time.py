# How fast support resolves tickets, per month in which tickets were created (months
# carry their year: the first day of the month). Only Resolved tickets have a
# resolution time (resolved_at is set only for them); the others count as unresolved.
start, end = period_bounds(params["time_period"], params["as_of"])

tickets = read_table("$(tables.support_tickets)").select("ticket_id", "created_at", "resolved_at", "status")
if start is not None:
    in_period = ((F.col("created_at") >= F.lit(start).cast("timestamp"))
                 & (F.col("created_at") < F.lit(end).cast("timestamp")))
    tickets = tickets.filter(in_period)

is_resolved = F.col("status") == F.lit("Resolved")
hours_to_resolve = (F.unix_timestamp("resolved_at") - F.unix_timestamp("created_at")) / F.lit(3600.0)

per_month = (
    tickets
    .withColumn("month", F.trunc(F.to_date("created_at"), "month"))
    .withColumn("resolution_hours", F.when(is_resolved, hours_to_resolve))
    .groupBy("month")
    .agg(
        F.count("ticket_id").alias("tickets_created"),
        F.sum(F.when(is_resolved, 1).otherwise(0)).alias("tickets_resolved"),
        F.avg("resolution_hours").alias("avg_hours"),
        # Exact median (interpolated, like percentile_cont(0.5)), not an approximation.
        F.median("resolution_hours").alias("median_hours"),
        F.max("resolution_hours").alias("max_hours"),
    )
)

result_df = (
    per_month
    .select(
        F.col("month").alias("month"),
        F.col("tickets_created").cast("long").alias("tickets_created"),
        F.col("tickets_resolved").cast("long").alias("tickets_resolved"),
        (F.col("tickets_created") - F.col("tickets_resolved")).cast("long").alias("tickets_unresolved"),
        F.round(F.col("tickets_resolved") / F.col("tickets_created"), 4).cast("double").alias("resolution_rate"),
        F.round("avg_hours", 2).cast("double").alias("avg_resolution_hours"),
        F.round("median_hours", 2).cast("double").alias("median_resolution_hours"),
        F.round("max_hours", 2).cast("double").alias("max_resolution_hours"),
    )
    .orderBy("month")
)

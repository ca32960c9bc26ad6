# Monthly retention by acquisition cohort. A customer's cohort is the month of their
# first order up to as_of; a cohort is "active" in a later month when at least one of
# its customers ordered in that month. Months carry their year (first day of the
# month). Every (cohort, month offset) up to as_of's month appears, with zero when
# nobody came back, so gaps are visible instead of missing rows.
as_of = params["as_of"]
cutoff = as_of + timedelta(days=1)

orders = (
    read_table("$(tables.orders)")
    .select("customer_id", "order_date")
    .filter(F.col("order_date") < F.lit(cutoff).cast("timestamp"))
)

# One row per customer and month with an order: the grain retention is counted on.
customer_months = (
    orders
    .withColumn("activity_month", F.trunc(F.to_date("order_date"), "month"))
    .groupBy("customer_id", "activity_month")
    .agg(F.count(F.lit(1)).alias("orders_in_month"))
)

cohorts = (
    customer_months
    .groupBy("customer_id")
    .agg(F.min("activity_month").alias("cohort_month"))
)

# The period selects cohorts: the months that overlap it.
start, end = period_bounds(params["time_period"], as_of)
if start is not None:
    overlaps_period = ((F.col("cohort_month") >= F.trunc(F.lit(start), "month"))
                       & (F.col("cohort_month") < F.lit(end)))
    cohorts = cohorts.filter(overlaps_period)

cohort_sizes = cohorts.groupBy("cohort_month").agg(F.count("customer_id").alias("cohort_size"))

active = (
    customer_months
    .join(cohorts, on="customer_id", how="inner")
    .withColumn("months_since_first",
                F.months_between(F.col("activity_month"), F.col("cohort_month")).cast("int"))
    .groupBy("cohort_month", "months_since_first")
    .agg(F.count("customer_id").alias("active_customers"))
)

# Offsets 0..max_months, but never past the month of as_of.
as_of_month = F.trunc(F.lit(as_of), "month")
last_offset = F.least(F.lit(params["max_months"]),
                      F.months_between(as_of_month, F.col("cohort_month")).cast("int"))
grid = cohort_sizes.withColumn("months_since_first", F.explode(F.sequence(F.lit(0), last_offset)))

result_df = (
    grid
    .join(active, on=["cohort_month", "months_since_first"], how="left")
    .withColumn("active_customers", F.coalesce(F.col("active_customers"), F.lit(0)))
    .select(
        F.col("cohort_month").alias("cohort_month"),
        F.col("months_since_first").cast("int").alias("months_since_first"),
        F.col("cohort_size").cast("long").alias("cohort_size"),
        F.col("active_customers").cast("long").alias("active_customers"),
        F.round(F.col("active_customers") / F.col("cohort_size"), 4).cast("double").alias("retention_rate"),
    )
    .orderBy("cohort_month", "months_since_first")
)

-- monthly_cohort_retention — share of each first-order cohort that orders again, by month.
return {
  name = "monthly_cohort_retention",
  summary = "Monthly retention of customers grouped by the month of their first order",
  tables = {"orders"},
  params = {
    time_period = {type = "enum", values = {"last_7_days", "last_30_days", "last_month", "last_90_days",
                   "last_quarter", "month_to_date", "ytd", "all"},
                   default = "all", doc = "which cohorts count: months overlapping the period"},
    as_of = {type = "date", doc = "orders up to and including this day count (default: today)"},
    max_months = {type = "integer", min = 1, max = 36, default = 12, doc = "months after the first to follow"},
  },
  complexity = "high",
  checks = {
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"cohort_month", "months_since_first", "cohort_size",
                                           "active_customers", "retention_rate"}},
    {rule = "not_null", columns = {"cohort_month", "months_since_first", "cohort_size",
                                   "active_customers", "retention_rate"}},
    {rule = "unique", columns = {"cohort_month", "months_since_first"}},
    {rule = "positive", column = "cohort_size"},
    {rule = "value_between", column = "retention_rate", min = 0, max = 1},
    {rule = "value_between", column = "months_since_first", min = 0, max = "$(max_months)"},
    {rule = "date_range", column = "cohort_month", max = "$(as_of)"},
  },
  guidance = [[
Only orders with order_date < as_of + 1 day count. A customer's cohort_month is the
first day of the month of their first such order. Cohorts are the months that overlap
the period: cohort_month >= first day of start's month and cohort_month < end (all
cohorts for "all"). Output one row per cohort and months_since_first from 0 to
min(max_months, months from cohort_month to as_of's month), sorted by cohort_month then
months_since_first:
- cohort_month: a date (first day of the month), so the year is kept.
- months_since_first: whole months from cohort_month to the activity month.
- cohort_size: customers in the cohort.
- active_customers: cohort customers with at least one order in that month (0 when
  none; month 0 equals cohort_size).
- retention_rate: round(active_customers / cohort_size, 4).
Pitfalls: count customers, not orders (several orders in a month count once); months
without the year merge different years; use as_of, never current_date().]],
  description = [[
Monthly cohort retention as of $(as_of) for cohorts in period $(time_period), following
up to $(max_months) months. A cohort is the month of a customer's first order. Columns:
cohort_month (first day); months_since_first; cohort_size; active_customers = cohort
customers who ordered in that month; retention_rate = active_customers / cohort_size.]],
  template = "types/monthly_cohort_retention.py",
}

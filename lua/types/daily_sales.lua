-- daily_sales — orders, customers, units and revenue per calendar day.
return {
  name = "daily_sales",
  summary = "Orders, customers, units and revenue per day over a period",
  tables = {"orders", "order_items"},
  params = {
    time_period = {type = "enum", values = {"last_7_days", "last_30_days", "last_month", "last_90_days",
                   "last_quarter", "month_to_date", "ytd", "all"},
                   default = "last_30_days", doc = "which orders count, by order_date"},
    as_of = {type = "date", doc = "reference date for the period (default: today)"},
  },
  complexity = "low",
  checks = {
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"day", "order_count", "customer_count", "units", "revenue",
                                           "avg_order_value"}},
    {rule = "not_null", columns = {"day", "order_count", "revenue"}},
    {rule = "unique", columns = {"day"}},
    {rule = "positive", column = "order_count"},
    {rule = "positive", column = "revenue", allow_zero = true},
    {rule = "date_range", column = "day", period = "$(time_period)", as_of = "$(as_of)"},
  },
  guidance = [[
Output one row per calendar day (UTC date of order_date) that has at least one order in
the period, sorted by day:
- day: to_date(order_date).
- order_count: number of orders that day.
- customer_count: number of distinct customers who ordered that day.
- units: sum of order_items.quantity of those orders.
- revenue: sum of orders.total_amount of those orders. decimal(18,2).
- avg_order_value: round(revenue / order_count, 2).
Pitfalls: order_items has several rows per order. Sum quantity per order_id first and
join that (one row per order) to orders; joining raw order_items would multiply
order_count and revenue. The period filters orders.order_date with
start <= order_date < end from period_bounds.]],
  description = [[
Daily sales for orders placed in period $(time_period) as of $(as_of), one row per day
with orders. Columns: day (UTC date of order_date); order_count; customer_count =
distinct customers; units = sum of item quantities; revenue = sum of total_amount;
avg_order_value = revenue / order_count rounded to cents. Sorted by day.]],
  template = "types/daily_sales.py",
}

-- top_customers — the customers who spent most over a period, ranked.
return {
  name = "top_customers",
  summary = "The N customers with the highest spend over a period, ranked",
  tables = {"orders", "customers"},
  params = {
    time_period = {type = "enum", values = {"last_7_days", "last_30_days", "last_month", "last_90_days",
                   "last_quarter", "month_to_date", "ytd", "all"},
                   default = "last_90_days", doc = "which orders count, by order_date"},
    as_of = {type = "date", doc = "reference date for the period (default: today)"},
    limit = {type = "integer", min = 1, max = 1000, default = 10, doc = "how many customers to return"},
  },
  complexity = "medium",
  checks = {
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"rank", "customer_id", "name", "order_count", "total_spent",
                                           "avg_order_value", "first_order_date", "last_order_date"}},
    {rule = "not_null", columns = {"rank", "customer_id", "order_count", "total_spent"}},
    {rule = "unique", columns = {"customer_id"}},
    {rule = "unique", columns = {"rank"}},
    {rule = "positive", column = "total_spent"},
    {rule = "row_count_between", min = 1, max = "$(limit)"},
    -- Catches a missing or shifted period filter.
    {rule = "date_range", column = "first_order_date", period = "$(time_period)", as_of = "$(as_of)"},
    {rule = "date_range", column = "last_order_date", period = "$(time_period)", as_of = "$(as_of)"},
  },
  guidance = [[
Output at most `limit` rows, one per customer with at least one order in the period,
ordered by rank:
- rank: 1 for the highest total_spent; ties broken by the smaller customer_id
  (row_number, so ranks are unique).
- customer_id, name: from customers.
- order_count: number of the customer's orders in the period.
- total_spent: sum of orders.total_amount of those orders. decimal(18,2).
- avg_order_value: round(total_spent / order_count, 2).
- first_order_date, last_order_date: date of the earliest and latest of those orders.
Pitfalls: orders.total_amount already is the sum of the order's items; joining
order_items and then summing total_amount counts each order once per line. Aggregate
orders per customer before joining customers. The period filters orders.order_date with
start <= order_date < end from period_bounds.]],
  description = [[
Top $(limit) customers by spend on orders placed in period $(time_period) as of $(as_of).
Columns: rank (1 = highest spend, ties by customer_id); customer_id; name;
order_count = their orders in the period; total_spent = sum of those orders'
total_amount; avg_order_value = total_spent / order_count rounded to cents;
first_order_date and last_order_date of those orders.]],
  template = "types/top_customers.py",
}

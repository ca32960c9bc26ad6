-- customer_lifetime_value — what each customer has spent so far, with recency and tenure.
return {
  name = "customer_lifetime_value",
  summary = "Lifetime spend, order count, tenure and recency of every customer as of a date",
  tables = {"customers", "orders"},
  params = {
    as_of = {type = "date", doc = "count customers who joined and orders placed up to this day (default: today)"},
  },
  complexity = "medium",
  checks = {
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"customer_id", "name", "date_joined", "order_count",
                                           "total_spent", "avg_order_value", "first_order_date",
                                           "last_order_date", "tenure_days", "days_since_last_order"}},
    {rule = "not_null", columns = {"customer_id", "order_count", "total_spent", "tenure_days"}},
    {rule = "unique", columns = {"customer_id"}},
    {rule = "positive", column = "total_spent", allow_zero = true},
    {rule = "positive", column = "tenure_days", allow_zero = true},
    -- Orders after as_of must not count.
    {rule = "date_range", column = "last_order_date", max = "$(as_of)"},
  },
  guidance = [[
Output one row per customer with date_joined <= as_of (customers without orders
included), sorted by total_spent descending then customer_id. Orders count when
order_date < as_of + 1 day (up to and including as_of):
- customer_id, name, date_joined: from customers.
- order_count: number of the customer's orders (0 when none).
- total_spent: sum of orders.total_amount (0.00 when none). decimal(18,2).
- avg_order_value: round(total_spent / order_count, 2); null when no orders.
- first_order_date, last_order_date: dates of the first and last order; null when none.
- tenure_days: days from date_joined to as_of.
- days_since_last_order: days from last_order_date to as_of; null when no orders.
Pitfalls: a left join from customers keeps customers without orders; aggregate orders
per customer before joining. Do not join order_items: total_amount already sums them.
Use the as_of parameter, never current_date(), so runs are reproducible.]],
  description = [[
Customer lifetime value as of $(as_of): every customer who joined by then, with their
orders placed up to and including that day. Columns: customer_id; name; date_joined;
order_count; total_spent = sum of total_amount (0 when none); avg_order_value (null when
no orders); first_order_date; last_order_date; tenure_days = days since joining;
days_since_last_order. Sorted by total_spent, highest first.]],
  template = "types/customer_lifetime_value.py",
}

-- revenue_by_category — revenue, orders and units per product category over a period.
return {
  name = "revenue_by_category",
  summary = "Revenue, distinct orders and units per product category over a period",
  tables = {"orders", "order_items", "products"},
  params = {
    time_period = {type = "enum", values = {"last_7_days", "last_30_days", "last_month", "last_90_days",
                   "last_quarter", "month_to_date", "ytd", "all"},
                   default = "last_month", doc = "which orders count, by order_date"},
    as_of = {type = "date", doc = "reference date for the period (default: today)"},
  },
  complexity = "medium",
  checks = {
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"category", "revenue", "order_count", "units"}},
    {rule = "not_null", columns = {"category", "revenue", "order_count", "units"}},
    {rule = "unique", columns = {"category"}},
    {rule = "positive", column = "revenue"},
    {rule = "positive", column = "order_count"},
  },
  guidance = [[
Output one row per product category that sold anything in the period, sorted by
revenue descending (ties by category):
- category: products.category.
- revenue: sum of order_items.quantity * order_items.unit_price over the items of orders
  whose order_date is in the period (unit_price is what was charged, after discounts;
  do not use products.price). decimal(18,2).
- order_count: number of distinct orders with at least one item in the category. An
  order with two items of one category counts once: count_distinct(order_id), never a
  count of lines.
- units: sum of quantity.
Pitfalls: never sum orders.total_amount after joining orders to order_items (each order
repeats once per line, so its total is counted several times). The period filters
orders.order_date with start <= order_date < end from period_bounds.]],
  description = [[
Revenue per product category for orders placed in period $(time_period) as of $(as_of).
Columns: category; revenue = sum of quantity * unit_price of those orders' items;
order_count = distinct orders with an item in the category; units = sum of quantity.
Sorted by revenue, highest first.]],
  template = "types/revenue_by_category.py",
}

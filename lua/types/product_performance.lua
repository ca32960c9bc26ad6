-- product_performance — units, orders, revenue and share of revenue per product.
return {
  name = "product_performance",
  summary = "Units, orders, revenue and revenue share of every product over a period, ranked",
  tables = {"products", "order_items", "orders"},
  params = {
    time_period = {type = "enum", values = {"last_7_days", "last_30_days", "last_month", "last_90_days",
                   "last_quarter", "month_to_date", "ytd", "all"},
                   default = "last_90_days", doc = "which orders count, by order_date"},
    as_of = {type = "date", doc = "reference date for the period (default: today)"},
    limit = {type = "integer", min = 1, max = 1000, default = 50, doc = "how many products to return"},
  },
  complexity = "medium",
  checks = {
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"rank", "product_id", "name", "category", "units_sold",
                                           "order_count", "revenue", "avg_unit_price", "revenue_share"}},
    {rule = "not_null", columns = {"rank", "product_id", "units_sold", "order_count", "revenue"}},
    {rule = "unique", columns = {"product_id"}},
    {rule = "positive", column = "units_sold", allow_zero = true},
    {rule = "positive", column = "revenue", allow_zero = true},
    {rule = "value_between", column = "revenue_share", min = 0, max = 1},
    {rule = "row_count_between", min = 1, max = "$(limit)"},
  },
  guidance = [[
Output at most `limit` rows, one per product (products without sales in the period
included with zeros), ordered by rank:
- rank: 1 for the highest revenue; ties broken by the smaller product_id.
- product_id, name, category: from products.
- units_sold: sum of order_items.quantity over items of orders in the period.
- order_count: distinct orders containing the product.
- revenue: sum of quantity * unit_price of those items. decimal(18,2).
- avg_unit_price: round(revenue / units_sold, 2); null when nothing sold.
- revenue_share: round(revenue / revenue of all products in the period, 4), computed
  before the limit; null when the period has no revenue.
Pitfalls: aggregate order_items per product before joining products; keep products
without sales with a left join from products. Filter items by their order's
order_date (start <= order_date < end from period_bounds), not by products.price.]],
  description = [[
Product performance for orders placed in period $(time_period) as of $(as_of), top
$(limit) by revenue. Columns: rank (ties by product_id); product_id; name; category;
units_sold = sum of quantity; order_count = distinct orders; revenue = sum of
quantity * unit_price; avg_unit_price = revenue / units_sold; revenue_share = share of
the period's revenue of all products. Unsold products appear with zeros.]],
  template = "types/product_performance.py",
}

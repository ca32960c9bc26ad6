-- examples/eval/answers.lua — the model answers recorded in examples/eval/replay, kept
-- readable here: case name → the emit_code tool input. record.lua turns them into
-- recordings keyed by the exact request sparkgen sends, so `eval --replay` is offline.
-- The three `wrong_*` answers are wrong on purpose (see shop.lua).
local function answer(tables, complexity, description, code)
  return {code = code, description = description, tables_used = tables,
          estimated_complexity = complexity, validation_checks = {{rule = "non_empty"}}}
end

return {
  customers_without_orders = answer({"customers", "orders"}, "low",
    "One row per customer with no order at all.", [[
customers = read_table("customers")
orders = read_table("orders")

# A left anti join keeps the customers that have no matching order.
result_df = (
    customers
    .join(orders.select("customer_id"), on="customer_id", how="left_anti")
    .select("customer_id", "name", "email")
)
]]),

  orders_per_month_2025 = answer({"orders"}, "low",
    "One row per month of 2025 with its order count and revenue.", [[
orders = read_table("orders")

in_2025 = (F.col("order_date") >= F.lit(date(2025, 1, 1))) & (F.col("order_date") < F.lit(date(2026, 1, 1)))
result_df = (
    orders
    .filter(in_2025)
    .groupBy(F.trunc("order_date", "month").alias("month"))
    .agg(F.count("*").alias("order_count"), F.sum("total_amount").alias("revenue"))
)
]]),

  lines_and_units_per_order = answer({"orders", "order_items"}, "medium",
    "One row: average lines and units per order.", [[
orders = read_table("orders")
order_items = read_table("order_items")

per_order = (
    order_items
    .groupBy("order_id")
    .agg(F.count("*").alias("lines"), F.sum("quantity").alias("units"))
)
result_df = (
    orders.select("order_id")
    .join(per_order, on="order_id", how="left")
    .fillna(0, subset=["lines", "units"])
    .agg(F.round(F.avg("lines"), 4).alias("avg_lines"), F.round(F.avg("units"), 4).alias("avg_units"))
)
]]),

  top_category_per_month = answer({"order_items", "orders", "products"}, "high",
    "One row per month of 2026 up to October: the category with the most revenue.", [[
order_items = read_table("order_items")
orders = read_table("orders")
products = read_table("products")

in_range = (F.col("order_date") >= F.lit(date(2026, 1, 1))) & (F.col("order_date") < F.lit(date(2026, 11, 1)))
monthly = (
    order_items
    .join(orders.filter(in_range).select("order_id", "order_date"), on="order_id", how="inner")
    .join(products.select("product_id", "category"), on="product_id", how="inner")
    .groupBy(F.trunc("order_date", "month").alias("month"), "category")
    .agg(F.sum(F.col("quantity") * F.col("unit_price")).alias("revenue"))
)
best_first = Window.partitionBy("month").orderBy(F.col("revenue").desc(), F.col("category"))
result_df = (
    monthly
    .withColumn("rn", F.row_number().over(best_first))
    .filter(F.col("rn") == 1)
    .select("month", "category", "revenue")
)
]]),

  repeat_customer_share = answer({"orders"}, "low",
    "One row: the share of ordering customers who ordered at least twice.", [[
orders = read_table("orders")

per_customer = orders.groupBy("customer_id").agg(F.count("*").alias("order_count"))
result_df = per_customer.agg(
    F.round(F.sum(F.when(F.col("order_count") >= 2, 1).otherwise(0)) / F.count("*"), 4).alias("repeat_share")
)
]]),

  customers_all_three_categories = answer({"customers", "orders", "order_items", "products"}, "medium",
    "One row per customer who bought from every category.", [[
customers = read_table("customers")
orders = read_table("orders")
order_items = read_table("order_items")
products = read_table("products")

categories_per_customer = (
    orders.select("order_id", "customer_id")
    .join(order_items.select("order_id", "product_id"), on="order_id", how="inner")
    .join(products.select("product_id", "category"), on="product_id", how="inner")
    .groupBy("customer_id")
    .agg(F.countDistinct("category").alias("categories"))
)
result_df = (
    customers
    .join(categories_per_customer.filter(F.col("categories") == 3), on="customer_id", how="inner")
    .select("customer_id", "name")
)
]]),

  running_revenue_october_2026 = answer({"orders"}, "medium",
    "One row per day of October 2026 with orders: revenue and the month's running total.", [[
orders = read_table("orders")

in_october = (F.col("order_date") >= F.lit(date(2026, 10, 1))) & (F.col("order_date") < F.lit(date(2026, 11, 1)))
daily = (
    orders
    .filter(in_october)
    .groupBy(F.to_date("order_date").alias("day"))
    .agg(F.sum("total_amount").alias("revenue"))
)
to_date_window = Window.orderBy("day").rowsBetween(Window.unboundedPreceding, Window.currentRow)
result_df = (
    daily
    .withColumn("running_revenue", F.sum("revenue").over(to_date_window))
    .orderBy("day")
)
]]),

  quick_first_order = answer({"customers", "orders"}, "medium",
    "One row per customer whose first order came at most 7 days after joining.", [[
customers = read_table("customers")
orders = read_table("orders")

first_orders = orders.groupBy("customer_id").agg(F.min("order_date").alias("first_order_at"))
result_df = (
    customers
    .join(first_orders, on="customer_id", how="inner")
    .withColumn("days_to_first_order", F.datediff(F.to_date("first_order_at"), F.col("date_joined")))
    .filter(F.col("days_to_first_order") <= 7)
    .select("customer_id", "days_to_first_order")
)
]]),

  unresolved_tickets_by_status = answer({"support_tickets"}, "low",
    "One row per status with tickets that have no resolution time.", [[
support_tickets = read_table("support_tickets")

result_df = (
    support_tickets
    .filter(F.col("resolved_at").isNull())
    .groupBy("status")
    .agg(F.count("*").alias("tickets"))
)
]]),

  ticket_customers_without_orders = answer({"support_tickets", "orders"}, "low",
    "One row: customers with a ticket and no order.", [[
support_tickets = read_table("support_tickets")
orders = read_table("orders")

result_df = (
    support_tickets.select("customer_id")
    .join(orders.select("customer_id"), on="customer_id", how="left_anti")
    .agg(F.countDistinct("customer_id").alias("customers"))
)
]]),

  products_unsold_this_month = answer({"products", "order_items", "orders"}, "medium",
    "One row per product without an order line in 1-15 November 2026.", [[
products = read_table("products")
order_items = read_table("order_items")
orders = read_table("orders")

in_window = (F.col("order_date") >= F.lit(date(2026, 11, 1))) & (F.col("order_date") < F.lit(date(2026, 11, 16)))
sold = (
    order_items.select("order_id", "product_id")
    .join(orders.filter(in_window).select("order_id"), on="order_id", how="inner")
)
result_df = (
    products
    .join(sold, on="product_id", how="left_anti")
    .select("product_id", "name", "category")
)
]]),

  list_price_vs_charged = answer({"products", "order_items"}, "low",
    "One row per sold product: list price and average price charged.", [[
products = read_table("products")
order_items = read_table("order_items")

charged = order_items.groupBy("product_id").agg(F.round(F.avg("unit_price"), 2).alias("avg_charged"))
result_df = (
    products
    .join(charged, on="product_id", how="inner")
    .select("product_id", "price", "avg_charged")
)
]]),

  most_orders_with_ties = answer({"orders"}, "medium",
    "One row per customer sharing the highest order count.", [[
orders = read_table("orders")

per_customer = orders.groupBy("customer_id").agg(F.count("*").alias("order_count"))
by_count = Window.orderBy(F.col("order_count").desc())
result_df = (
    per_customer
    .withColumn("rnk", F.rank().over(by_count))
    .filter(F.col("rnk") == 1)
    .select("customer_id", "order_count")
)
]]),

  month_over_month_2026 = answer({"orders"}, "medium",
    "One row per month of 2026 up to October: revenue and change from the month before.", [[
orders = read_table("orders")

monthly = (
    orders
    .groupBy(F.trunc("order_date", "month").alias("month"))
    .agg(F.sum("total_amount").alias("revenue"))
)
by_month = Window.orderBy("month")
result_df = (
    monthly
    .withColumn("change", F.col("revenue") - F.lag("revenue").over(by_month))
    .filter((F.col("month") >= F.lit(date(2026, 1, 1))) & (F.col("month") < F.lit(date(2026, 11, 1))))
    .select("month", "revenue", "change")
)
]]),

  customers_by_first_order_month = answer({"orders"}, "low",
    "One row per month: customers whose first order fell in it.", [[
orders = read_table("orders")

first_orders = orders.groupBy("customer_id").agg(F.trunc(F.min("order_date"), "month").alias("first_month"))
result_df = first_orders.groupBy("first_month").agg(F.count("*").alias("customers"))
]]),

  -- Wrong on purpose: orders.total_amount summed after joining the lines (fan-out).
  wrong_fanout_revenue_by_category = answer({"orders", "order_items", "products"}, "medium",
    "One row per category with its revenue.", [[
orders = read_table("orders")
order_items = read_table("order_items")
products = read_table("products")

result_df = (
    orders
    .join(order_items, on="order_id", how="inner")
    .join(products.select("product_id", "category"), on="product_id", how="inner")
    .groupBy("category")
    .agg(F.sum("total_amount").alias("revenue"))
)
]]),

  -- Wrong on purpose: the month number without the year merges 2025 and 2026.
  wrong_month_without_year = answer({"orders"}, "low",
    "One row per month with its order count.", [[
orders = read_table("orders")

result_df = (
    orders
    .groupBy(F.month("order_date").alias("month"))
    .agg(F.count("*").alias("order_count"))
)
]]),

  -- Wrong on purpose: order lines counted as orders.
  wrong_lines_as_orders = answer({"order_items", "products"}, "low",
    "One row per category with the number of orders.", [[
order_items = read_table("order_items")
products = read_table("products")

result_df = (
    order_items
    .join(products.select("product_id", "category"), on="product_id", how="inner")
    .groupBy("category")
    .agg(F.count("*").alias("order_count"))
)
]]),
}

-- examples/eval/shop.lua — the eval suite over the example shop database
-- (examples/shop/schema.sql, loaded into a database that --db / SPARKGEN_DB names; see
-- README, "Evaluating"). Run offline from the recorded answers:
--   sparkgen eval examples/eval/shop.lua --replay examples/eval/replay
-- Every built-in type, a few of them in a second context, free-text questions in the
-- style of BIRD (joins across 3+ tables, windows, cohorts, time windows, nulls, ties,
-- customers without orders) and three answers that are known wrong (expect = "wrong":
-- fan-out double counting, a month without its year, lines counted as orders), which
-- eval must report as wrong results. Reference SQL is written from the question,
-- independently of any template or recorded answer; its column names are the names
-- the answer must use.
return {
  name = "shop",
  source = "orders",
  -- The snapshot the recordings were made against (used when no schema is configured).
  schema = "../shop/schema.json",
  context = {as_of = "2026-11-15"},
  cases = {
    -- Every built-in type (template provider offline; the model when one is configured).
    {name = "type_customer_lifetime_value", type = "customer_lifetime_value", source = "customers",
     reference_file = "../../tests/sql/reference/customer_lifetime_value.sql"},
    {name = "type_daily_sales_mtd", type = "daily_sales", context = {time_period = "month_to_date"},
     reference_file = "../../tests/sql/reference/daily_sales.sql"},
    {name = "type_cohort_retention_ytd", type = "monthly_cohort_retention",
     context = {time_period = "ytd", max_months = 6},
     reference_file = "../../tests/sql/reference/monthly_cohort_retention.sql"},
    {name = "type_product_performance_q3", type = "product_performance", source = "order_items",
     context = {time_period = "last_quarter", limit = 10},
     reference_file = "../../tests/sql/reference/product_performance.sql"},
    {name = "type_revenue_by_category_all", type = "revenue_by_category", context = {time_period = "all"},
     reference_file = "../../tests/sql/reference/revenue_by_category.sql"},
    {name = "type_ticket_resolution_90d", type = "ticket_resolution_time", source = "support_tickets",
     context = {time_period = "last_90_days"},
     reference_file = "../../tests/sql/reference/ticket_resolution_time.sql"},
    {name = "type_top_customers_30d", type = "top_customers", context = {time_period = "last_30_days", limit = 5},
     reference_file = "../../tests/sql/reference/top_customers.sql"},

    -- The same types in other contexts.
    {name = "type_revenue_by_category_last_month", type = "revenue_by_category",
     context = {time_period = "last_month"}, reference_sql = [[
SELECT p.category, sum(i.quantity * i.unit_price) AS revenue,
       count(DISTINCT i.order_id) AS order_count, sum(i.quantity) AS units
FROM order_items i
JOIN orders o ON o.order_id = i.order_id
JOIN products p ON p.product_id = i.product_id
WHERE o.order_date >= DATE '2026-10-01' AND o.order_date < DATE '2026-11-01'
GROUP BY p.category]]},
    {name = "type_top_customers_ytd", type = "top_customers", context = {time_period = "ytd", limit = 10},
     reference_sql = [[
WITH c AS (
  SELECT customer_id, count(*) AS order_count, sum(total_amount) AS total_spent,
         min(order_date)::date AS first_order_date, max(order_date)::date AS last_order_date
  FROM orders WHERE order_date >= DATE '2026-01-01' AND order_date < DATE '2026-11-16'
  GROUP BY customer_id)
SELECT * FROM (
  SELECT row_number() OVER (ORDER BY c.total_spent DESC, c.customer_id) AS rank, c.customer_id,
         cu.name, c.order_count, c.total_spent, round(c.total_spent / c.order_count, 2) AS avg_order_value,
         c.first_order_date, c.last_order_date
  FROM c JOIN customers cu ON cu.customer_id = c.customer_id) r
WHERE rank <= 10]]},
    {name = "type_daily_sales_7d", type = "daily_sales", context = {time_period = "last_7_days"},
     reference_sql = [[
WITH o AS (SELECT * FROM orders WHERE order_date >= DATE '2026-11-08' AND order_date < DATE '2026-11-15'),
     u AS (SELECT order_id, sum(quantity) AS units FROM order_items GROUP BY order_id)
SELECT o.order_date::date AS day, count(*) AS order_count, count(DISTINCT o.customer_id) AS customer_count,
       sum(u.units) AS units, sum(o.total_amount) AS revenue, round(sum(o.total_amount) / count(*), 2) AS avg_order_value
FROM o JOIN u ON u.order_id = o.order_id
GROUP BY 1]]},

    -- Free-text questions.
    {name = "customers_without_orders", source = "customers",
     text = "customers who never placed an order, with their id, name and email",
     reference_sql = [[
SELECT customer_id, name, email FROM customers c
WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id)]]},
    {name = "orders_per_month_2025",
     text = "number of orders and revenue per calendar month in 2025, month as its first day",
     reference_sql = [[
SELECT date_trunc('month', order_date)::date AS month, count(*) AS order_count, sum(total_amount) AS revenue
FROM orders WHERE order_date >= DATE '2025-01-01' AND order_date < DATE '2026-01-01'
GROUP BY 1]]},
    {name = "lines_and_units_per_order",
     text = "average number of order lines and average units per order over all orders, rounded to 4 decimals",
     reference_sql = [[
SELECT round(avg(lines), 4) AS avg_lines, round(avg(units), 4) AS avg_units
FROM (SELECT o.order_id, count(i.order_id) AS lines, coalesce(sum(i.quantity), 0) AS units
      FROM orders o LEFT JOIN order_items i ON i.order_id = o.order_id GROUP BY o.order_id) t]]},
    {name = "top_category_per_month", source = "order_items",
     text = "for each month from January to October 2026, the product category with the highest revenue from order lines (ties by category name)",
     reference_sql = [[
WITH m AS (
  SELECT date_trunc('month', o.order_date)::date AS month, p.category, sum(i.quantity * i.unit_price) AS revenue
  FROM order_items i JOIN orders o ON o.order_id = i.order_id JOIN products p ON p.product_id = i.product_id
  WHERE o.order_date >= DATE '2026-01-01' AND o.order_date < DATE '2026-11-01'
  GROUP BY 1, 2)
SELECT month, category, revenue FROM (
  SELECT *, row_number() OVER (PARTITION BY month ORDER BY revenue DESC, category) AS rn FROM m) r
WHERE rn = 1]]},
    {name = "repeat_customer_share",
     text = "share of customers with at least two orders among customers with at least one order, rounded to 4 decimals",
     reference_sql = [[
SELECT round(count(*) FILTER (WHERE n >= 2)::numeric / count(*), 4) AS repeat_share
FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) t]]},
    {name = "customers_all_three_categories", source = "customers",
     text = "customers who bought products from all three categories, with id and name",
     reference_sql = [[
SELECT c.customer_id, c.name
FROM customers c
JOIN orders o ON o.customer_id = c.customer_id
JOIN order_items i ON i.order_id = o.order_id
JOIN products p ON p.product_id = i.product_id
GROUP BY c.customer_id, c.name
HAVING count(DISTINCT p.category) = 3]]},
    {name = "running_revenue_october_2026",
     text = "revenue per day in October 2026 with the running total within the month",
     ordered = true,
     reference_sql = [[
SELECT day, revenue, sum(revenue) OVER (ORDER BY day) AS running_revenue
FROM (SELECT order_date::date AS day, sum(total_amount) AS revenue FROM orders
      WHERE order_date >= DATE '2026-10-01' AND order_date < DATE '2026-11-01' GROUP BY 1) d
ORDER BY day]]},
    {name = "quick_first_order", source = "customers",
     text = "customers whose first order came within 7 days of joining, with the number of days",
     reference_sql = [[
SELECT c.customer_id, min(o.order_date)::date - c.date_joined AS days_to_first_order
FROM customers c JOIN orders o ON o.customer_id = c.customer_id
GROUP BY c.customer_id, c.date_joined
HAVING min(o.order_date)::date - c.date_joined <= 7]]},
    {name = "unresolved_tickets_by_status", source = "support_tickets",
     text = "number of tickets without a resolution time, per status",
     reference_sql = [[
SELECT status, count(*) AS tickets FROM support_tickets WHERE resolved_at IS NULL GROUP BY status]]},
    {name = "ticket_customers_without_orders", source = "support_tickets",
     text = "how many distinct customers opened a support ticket but never placed an order",
     reference_sql = [[
SELECT count(DISTINCT t.customer_id) AS customers
FROM support_tickets t
WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = t.customer_id)]]},
    {name = "products_unsold_this_month", source = "products",
     text = "products with no order line in orders placed from 1 to 15 November 2026, with id, name and category",
     reference_sql = [[
SELECT product_id, name, category FROM products p
WHERE NOT EXISTS (SELECT 1 FROM order_items i JOIN orders o ON o.order_id = i.order_id
                  WHERE i.product_id = p.product_id
                    AND o.order_date >= DATE '2026-11-01' AND o.order_date < DATE '2026-11-16')]]},
    {name = "list_price_vs_charged", source = "products",
     text = "for every product sold at least once: its list price and the average unit price actually charged, rounded to 2 decimals",
     reference_sql = [[
SELECT p.product_id, p.price, round(avg(i.unit_price), 2) AS avg_charged
FROM products p JOIN order_items i ON i.product_id = p.product_id
GROUP BY p.product_id, p.price]]},
    {name = "most_orders_with_ties", source = "customers",
     text = "the customers tied for the largest number of orders, with that number",
     reference_sql = [[
WITH n AS (SELECT customer_id, count(*) AS order_count FROM orders GROUP BY customer_id)
SELECT customer_id, order_count FROM n WHERE order_count = (SELECT max(order_count) FROM n)]]},
    {name = "month_over_month_2026",
     text = "revenue per month from January to October 2026 with the change from the previous calendar month",
     reference_sql = [[
WITH m AS (SELECT date_trunc('month', order_date)::date AS month, sum(total_amount) AS revenue
           FROM orders GROUP BY 1)
SELECT month, revenue, revenue - lag(revenue) OVER (ORDER BY month) AS change
FROM m ORDER BY month]] .. "\nOFFSET 12 LIMIT 10"},
    {name = "customers_by_first_order_month",
     text = "number of customers by the month of their first order, month as its first day",
     reference_sql = [[
SELECT first_month, count(*) AS customers
FROM (SELECT customer_id, date_trunc('month', min(order_date))::date AS first_month
      FROM orders GROUP BY customer_id) f
GROUP BY first_month]]},

    -- Answers known to be wrong: eval must report each as a wrong result.
    {name = "wrong_fanout_revenue_by_category", expect = "wrong",
     text = "revenue per product category over all orders, from the order lines",
     reference_sql = [[
SELECT p.category, sum(i.quantity * i.unit_price) AS revenue
FROM order_items i JOIN products p ON p.product_id = i.product_id
GROUP BY p.category]]},
    {name = "wrong_month_without_year", expect = "wrong",
     text = "number of orders per calendar month over all orders, keeping the year",
     reference_sql = [[
SELECT date_trunc('month', order_date)::date AS month, count(*) AS order_count FROM orders GROUP BY 1]]},
    {name = "wrong_lines_as_orders", expect = "wrong",
     text = "number of orders containing each product category",
     reference_sql = [[
SELECT p.category, count(DISTINCT i.order_id) AS order_count
FROM order_items i JOIN products p ON p.product_id = i.product_id
GROUP BY p.category]]},
  },
}

-- Reference for daily_sales, written from the type's documented columns. month_to_date
-- as of 2026-11-15 is [2026-11-01, 2026-11-16): the orders of 16-20 November are out.
-- source: orders
-- context: as_of=2026-11-15 time_period=month_to_date
WITH in_period AS (
  SELECT order_id, customer_id, order_date, total_amount
  FROM orders
  WHERE order_date >= DATE '2026-11-01' AND order_date < DATE '2026-11-16'
),
units_per_order AS (
  SELECT order_id, sum(quantity) AS units
  FROM order_items
  GROUP BY order_id
)
SELECT o.order_date::date                            AS day,
       count(*)                                      AS order_count,
       count(DISTINCT o.customer_id)                 AS customer_count,
       sum(u.units)                                  AS units,
       sum(o.total_amount)                           AS revenue,
       round(sum(o.total_amount) / count(*), 2)      AS avg_order_value
FROM in_period o
LEFT JOIN units_per_order u ON u.order_id = o.order_id
GROUP BY o.order_date::date

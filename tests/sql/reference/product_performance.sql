-- Reference for product_performance, written from the type's documented columns.
-- last_quarter as of 2026-11-15 is [2026-07-01, 2026-10-01); top 10 by revenue.
-- source: order_items
-- context: as_of=2026-11-15 time_period=last_quarter limit=10
WITH items AS (
  SELECT i.product_id, i.order_id, i.quantity, i.unit_price
  FROM order_items i
  JOIN orders o ON o.order_id = i.order_id
  WHERE o.order_date >= DATE '2026-07-01' AND o.order_date < DATE '2026-10-01'
),
per_product AS (
  SELECT product_id,
         sum(quantity)              AS units_sold,
         count(DISTINCT order_id)   AS order_count,
         sum(quantity * unit_price) AS revenue
  FROM items
  GROUP BY product_id
),
ranked AS (
  SELECT row_number() OVER (ORDER BY coalesce(s.revenue, 0) DESC, p.product_id) AS rank,
         p.product_id, p.name, p.category,
         coalesce(s.units_sold, 0)                      AS units_sold,
         coalesce(s.order_count, 0)                     AS order_count,
         coalesce(s.revenue, 0)::numeric(18,2)          AS revenue,
         round(s.revenue / nullif(s.units_sold, 0), 2)  AS avg_unit_price,
         round(coalesce(s.revenue, 0) / nullif((SELECT sum(revenue) FROM per_product), 0), 4)
                                                        AS revenue_share
  FROM products p
  LEFT JOIN per_product s ON s.product_id = p.product_id
)
SELECT rank, product_id, name, category, units_sold, order_count, revenue,
       avg_unit_price, revenue_share
FROM ranked
WHERE rank <= 10

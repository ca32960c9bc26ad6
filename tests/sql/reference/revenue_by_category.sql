-- Reference for revenue_by_category, written from the type's documented columns:
-- revenue from the lines actually charged, orders counted once per category.
-- source: orders
-- context: as_of=2026-11-15 time_period=all
SELECT p.category,
       sum(i.quantity * i.unit_price)  AS revenue,
       count(DISTINCT i.order_id)      AS order_count,
       sum(i.quantity)                 AS units
FROM order_items i
JOIN orders o   ON o.order_id = i.order_id
JOIN products p ON p.product_id = i.product_id
GROUP BY p.category

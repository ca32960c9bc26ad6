-- Reference for customer_lifetime_value, written from the type's documented columns
-- (not its template). Orders count up to and including as_of: order_date < as_of + 1.
-- source: customers
-- context: as_of=2026-11-15
WITH per_customer AS (
  SELECT customer_id,
         count(*)               AS order_count,
         sum(total_amount)      AS total_spent,
         min(order_date)::date  AS first_order_date,
         max(order_date)::date  AS last_order_date
  FROM orders
  WHERE order_date < DATE '2026-11-16'
  GROUP BY customer_id
)
SELECT c.customer_id,
       c.name,
       c.date_joined,
       coalesce(p.order_count, 0)                      AS order_count,
       coalesce(p.total_spent, 0)::numeric(18,2)       AS total_spent,
       round(p.total_spent / p.order_count, 2)         AS avg_order_value,
       p.first_order_date,
       p.last_order_date,
       DATE '2026-11-15' - c.date_joined               AS tenure_days,
       DATE '2026-11-15' - p.last_order_date           AS days_since_last_order
FROM customers c
LEFT JOIN per_customer p ON p.customer_id = c.customer_id
WHERE c.date_joined <= DATE '2026-11-15'

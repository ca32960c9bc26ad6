-- Reference for top_customers, written from the type's documented columns.
-- last_30_days as of 2026-11-15 is [2026-10-16, 2026-11-15); top 5 by spend.
-- source: orders
-- context: as_of=2026-11-15 time_period=last_30_days limit=5
WITH per_customer AS (
  SELECT customer_id,
         count(*)               AS order_count,
         sum(total_amount)      AS total_spent,
         min(order_date)::date  AS first_order_date,
         max(order_date)::date  AS last_order_date
  FROM orders
  WHERE order_date >= DATE '2026-10-16' AND order_date < DATE '2026-11-15'
  GROUP BY customer_id
),
ranked AS (
  SELECT row_number() OVER (ORDER BY p.total_spent DESC, p.customer_id) AS rank,
         p.customer_id, c.name, p.order_count, p.total_spent,
         round(p.total_spent / p.order_count, 2) AS avg_order_value,
         p.first_order_date, p.last_order_date
  FROM per_customer p
  JOIN customers c ON c.customer_id = p.customer_id
)
SELECT * FROM ranked WHERE rank <= 5

-- Reference for monthly_cohort_retention, written from the type's documented columns.
-- ytd as of 2026-11-15: cohorts 2026-01-01 <= cohort_month < 2026-11-16; only orders
-- before 2026-11-16 count; months 0 .. min(6, months from cohort to November 2026).
-- source: orders
-- context: as_of=2026-11-15 time_period=ytd max_months=6
WITH activity AS (
  SELECT DISTINCT customer_id, date_trunc('month', order_date)::date AS month
  FROM orders
  WHERE order_date < DATE '2026-11-16'
),
first_month AS (
  SELECT customer_id, min(month) AS cohort_month
  FROM activity
  GROUP BY customer_id
),
cohorts AS (
  SELECT cohort_month, count(*) AS cohort_size
  FROM first_month
  WHERE cohort_month >= DATE '2026-01-01' AND cohort_month < DATE '2026-11-16'
  GROUP BY cohort_month
),
grid AS (
  SELECT c.cohort_month, c.cohort_size, k AS months_since_first
  FROM cohorts c,
       generate_series(0, least(6,
         (2026 * 12 + 11) - (extract(year FROM c.cohort_month)::int * 12
                             + extract(month FROM c.cohort_month)::int))) AS k
),
active AS (
  SELECT f.cohort_month,
         (extract(year FROM a.month)::int * 12 + extract(month FROM a.month)::int)
         - (extract(year FROM f.cohort_month)::int * 12 + extract(month FROM f.cohort_month)::int)
           AS months_since_first,
         count(*) AS active_customers
  FROM activity a
  JOIN first_month f ON f.customer_id = a.customer_id
  GROUP BY 1, 2
)
SELECT g.cohort_month,
       g.months_since_first,
       g.cohort_size,
       coalesce(a.active_customers, 0)                                   AS active_customers,
       round(coalesce(a.active_customers, 0)::numeric / g.cohort_size, 4) AS retention_rate
FROM grid g
LEFT JOIN active a ON a.cohort_month = g.cohort_month
                  AND a.months_since_first = g.months_since_first

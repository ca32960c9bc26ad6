-- Reference for ticket_resolution_time, written from the type's documented columns.
-- last_90_days as of 2026-11-15 is [2026-08-17, 2026-11-15); hours from the timestamps.
-- source: support_tickets
-- context: as_of=2026-11-15 time_period=last_90_days
WITH t AS (
  SELECT date_trunc('month', created_at)::date AS month,
         status = 'Resolved'                   AS resolved,
         extract(epoch FROM resolved_at - created_at) / 3600 AS hours
  FROM support_tickets
  WHERE created_at >= DATE '2026-08-17' AND created_at < DATE '2026-11-15'
)
SELECT month,
       count(*)                                            AS tickets_created,
       count(*) FILTER (WHERE resolved)                    AS tickets_resolved,
       count(*) FILTER (WHERE NOT resolved)                AS tickets_unresolved,
       round(count(*) FILTER (WHERE resolved)::numeric / count(*), 4) AS resolution_rate,
       round(avg(hours) FILTER (WHERE resolved), 2)        AS avg_resolution_hours,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY hours)
              FILTER (WHERE resolved))::numeric, 2)        AS median_resolution_hours,
       round(max(hours) FILTER (WHERE resolved), 2)        AS max_resolution_hours
FROM t
GROUP BY month

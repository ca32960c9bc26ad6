-- tests/spark/eval_blind_spots.lua — eval's verdicts on answers the old comparison got
-- wrong (the types live in tests/spark/root; run with SPARKGEN_PATH pointing there).
-- Every case but the last comes out as expected; the last is marked known-wrong but
-- passes, so the run must exit non-zero naming it.
return {
  name = "blind_spots",
  source = "orders",
  schema = "../../examples/shop/schema.json",
  context = {as_of = "2026-11-15"},
  cases = {
    {name = "clock_pinned_to_as_of", type = "clock_orders", reference_sql = [[
SELECT order_date::date AS day, count(*) AS orders FROM orders
WHERE order_date >= DATE '2026-11-08' AND order_date < DATE '2026-11-15' GROUP BY 1]]},
    {name = "date_equals_midnight_timestamp", type = "month_orders", reference_sql = [[
SELECT date_trunc('month', order_date) AS month, count(*) AS orders FROM orders GROUP BY 1]]},
    {name = "swapped_numeric_columns", type = "swapped_columns", expect = "wrong", reference_sql = [[
SELECT customer_id, count(*) AS orders, round(avg(total_amount), 2) AS avg_order_value
FROM orders GROUP BY customer_id]]},
    {name = "swapped_columns_positional", type = "swapped_columns", match = "positional", reference_sql = [[
SELECT customer_id, count(*) AS n, round(avg(total_amount), 2) AS aov FROM orders GROUP BY customer_id]]},
    {name = "known_wrong_but_right", type = "month_orders", expect = "wrong", reference_sql = [[
SELECT date_trunc('month', order_date)::date AS month, count(*) AS orders FROM orders GROUP BY 1]]},
  },
}

-- A test-only type whose body asks for "today" (current_date() from Python and from
-- SQL text): eval and the shared runner must judge it at the case's as_of.
return {
  name = "clock_orders",
  summary = "Orders per day over the 7 days before today (asks the clock, not as_of)",
  tables = {"orders"},
  params = {as_of = {type = "date", doc = "the pinned today"}},
  complexity = "low",
  checks = {{rule = "non_empty"}},
  guidance = "Test fixture.",
  description = "Orders per day in the last week.",
  template = "types/clock_orders.py",
}

-- A test-only type whose month column is a date; its reference gives the same months as
-- midnight timestamps, which must compare equal.
return {
  name = "month_orders",
  summary = "Orders per month, the month as a date",
  tables = {"orders"},
  params = {as_of = {type = "date", doc = "unused; present like in every type"}},
  complexity = "low",
  checks = {{rule = "non_empty"}},
  guidance = "Test fixture.",
  description = "Orders per month.",
  template = "types/month_orders.py",
}

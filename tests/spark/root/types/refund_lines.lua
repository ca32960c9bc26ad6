-- A test-only type whose result breaks its own validation rule on purpose (amounts are
-- negated), so the suite can show that a job fails and names the rule.
return {
  name = "refund_lines",
  summary = "Orders with their amount negated (breaks its positive check on purpose)",
  tables = {"orders"},
  params = {as_of = {type = "date", doc = "unused; present like in every type"}},
  complexity = "low",
  checks = {{rule = "positive", column = "refund"}},
  guidance = "Test fixture.",
  description = "Orders with negated amounts.",
  template = "types/refund_lines.py",
}

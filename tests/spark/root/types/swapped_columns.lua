-- A test-only type whose two numeric columns carry each other's values (the names are
-- right, the values swapped): eval must report it wrong when the reference names them.
return {
  name = "swapped_columns",
  summary = "Orders and average order value per customer, values swapped on purpose",
  tables = {"orders"},
  params = {as_of = {type = "date", doc = "unused; present like in every type"}},
  complexity = "low",
  checks = {{rule = "non_empty"}},
  guidance = "Test fixture.",
  description = "Per customer: orders and average order value (swapped).",
  template = "types/swapped_columns.py",
}

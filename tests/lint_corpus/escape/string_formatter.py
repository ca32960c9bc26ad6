# expect: forbidden-call line=4
# string.Formatter is format traversal by another name.
import string
leak = string.Formatter().vformat("{0.__globals__}", [period_bounds], {})
result_df = read_table("orders")

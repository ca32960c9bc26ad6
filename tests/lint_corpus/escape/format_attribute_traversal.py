# expect: forbidden-call line=3
# str.format walks attributes from a format string.
leak = "{0.__globals__[os].environ}".format(period_bounds)
result_df = read_table("orders")

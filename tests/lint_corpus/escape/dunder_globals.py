# expect: forbidden-call line=3
# A function's globals reach the job module.
env = period_bounds.__globals__["os"].environ
result_df = read_table("orders")

# expect: forbidden-call line=3
# globals() hands out the builtins.
b = globals()["__builtins__"]
result_df = read_table("orders")

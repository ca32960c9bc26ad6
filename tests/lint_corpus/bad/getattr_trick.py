# expect: forbidden-call line=3
orders = read_table("orders")
system = getattr(F, "__builtins__")
result_df = orders

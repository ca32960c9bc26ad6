# expect: forbidden-call line=3
orders = read_table("orders")
note = open("/etc/passwd").read()
result_df = orders

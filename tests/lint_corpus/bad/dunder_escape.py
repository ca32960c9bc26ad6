# expect: forbidden-call line=3
orders = read_table("orders")
classes = ().__class__.__base__.__subclasses__()
result_df = orders

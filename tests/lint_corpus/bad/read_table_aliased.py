# expect: read-table-not-literal line=2
rt = read_table
orders = rt("orders")
result_df = orders

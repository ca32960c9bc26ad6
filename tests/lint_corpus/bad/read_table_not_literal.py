# expect: read-table-not-literal line=3
name = "ord" + "ers"
orders = read_table(name)
result_df = orders

# expect: unknown-table line=2 suggest=orders
orders = read_table("ordres")
result_df = orders.select("order_id")

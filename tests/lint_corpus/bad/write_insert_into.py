# expect: write-forbidden line=4
orders = read_table("orders")
result_df = orders
result_df.writeTo("shop.orders_copy").append()

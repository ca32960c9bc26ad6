# expect: cross-join line=4
customers = read_table("customers")
products = read_table("products")
result_df = customers.crossJoin(products)

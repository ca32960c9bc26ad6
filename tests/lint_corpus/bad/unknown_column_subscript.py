# expect: unknown-column line=3 suggest=price
products = read_table("products")
result_df = products.filter(products["prise"] > 10)

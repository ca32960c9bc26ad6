# expect: collect-unaggregated line=3
customers = read_table("customers")
frame = customers.toPandas()
result_df = customers

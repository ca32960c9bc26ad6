# expect: forbidden-call line=3
# The catalog lists and reads tables outside read_table.
tables = spark.catalog.listTables()
result_df = read_table("orders")

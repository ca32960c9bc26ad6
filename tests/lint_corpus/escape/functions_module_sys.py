# expect: forbidden-call line=3
# pyspark.sql.functions imports sys.
mods = F.sys.modules
result_df = read_table("orders")

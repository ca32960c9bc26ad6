# expect: sql-not-select line=4
# EXECUTE IMMEDIATE runs SQL built from a string.
o = read_table("orders")
spark.sql("EXECUTE IMMEDIATE 'SELECT reflect(1)'")
result_df = o

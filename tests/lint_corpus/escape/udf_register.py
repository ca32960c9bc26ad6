# expect: python-udf line=4
# Registering a Python UDF for SQL.
o = read_table("orders")
spark.udf.register("leak", lambda x: x)
result_df = o

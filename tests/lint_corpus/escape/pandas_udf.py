# expect: python-udf line=3
# A pandas UDF runs Python on the executors.
leak = F.pandas_udf(lambda s: s, "string")
o = read_table("orders")
result_df = o.withColumn("x", leak(F.col("order_id")))

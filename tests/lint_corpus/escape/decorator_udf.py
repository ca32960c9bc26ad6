# expect: forbidden-syntax line=3 + python-udf line=3
# A decorator that makes a UDF.
@F.udf("string")
def shout(s):
    return s.upper()

o = read_table("orders")
result_df = o.withColumn("x", shout(F.col("order_id")))

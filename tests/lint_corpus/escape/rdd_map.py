# expect: connect-incompatible line=4
# RDD APIs are neither checked nor on Spark Connect.
o = read_table("orders")
pairs = o.rdd.map(lambda r: (r[0], r[1]))
result_df = o

# expect: connect-incompatible line=3
# sparkContext: no Spark Connect, reaches the JVM.
spark.sparkContext.setLogLevel("DEBUG")
result_df = read_table("orders")

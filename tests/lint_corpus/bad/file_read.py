# expect: connect-incompatible line=4 + forbidden-read line=4
orders = read_table("orders")
result_df = orders
lines = spark.sparkContext.textFile("/etc/passwd")

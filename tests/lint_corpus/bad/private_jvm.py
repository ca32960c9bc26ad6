# expect: connect-incompatible line=3
orders = read_table("orders")
runtime = spark._jvm.java.lang.Runtime.getRuntime()
result_df = orders

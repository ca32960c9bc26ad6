# expect: connect-incompatible line=4 + forbidden-call line=4
# A JVM handle reaches everything in the driver.
o = read_table("orders")
jvm_session = o._jdf.sparkSession()
result_df = o

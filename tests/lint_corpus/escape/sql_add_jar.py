# expect: sql-not-select line=4
# ADD JAR loads code into the JVM.
o = read_table("orders")
spark.sql("ADD JAR /tmp/evil.jar")
result_df = o

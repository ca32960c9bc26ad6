# expect: forbidden-read line=5
# A datasource-qualified path is a file read.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT value FROM text.`file:///proc/self/environ`")

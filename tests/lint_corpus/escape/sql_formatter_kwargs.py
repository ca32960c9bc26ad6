# expect: sql-unreadable line=5
# Python's formatter rewrites the text before Spark reads it.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT * FROM {t}", t=o)

# expect: sql-unreadable line=5
# Spark substitutes ${env:...} before parsing.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT '${env:SPARKGEN_JDBC_PASSWORD}' AS p FROM o")

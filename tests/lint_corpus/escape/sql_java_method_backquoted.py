# expect: forbidden-sql-function line=5
# The example: Spark runs a backquoted java_method.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT `java_method`('java.lang.System', 'getenv', 'SPARKGEN_JDBC_PASSWORD') AS x FROM o")

# expect: forbidden-sql-function line=5
# Spark's block comments nest.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT java_method /* a /* nested */ comment */ ('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

# expect: forbidden-sql-function line=5
# The IDENTIFIER clause names the function in a string.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT IDENTIFIER('java_method')('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

# expect: forbidden-sql-function line=5
# Adjacent string literals are joined.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT IDENTIFIER('java' '_method')('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

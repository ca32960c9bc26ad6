# expect: forbidden-sql-function line=5
# A unicode escape inside the IDENTIFIER string.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql(r"SELECT IDENTIFIER('java\u005fmethod')('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

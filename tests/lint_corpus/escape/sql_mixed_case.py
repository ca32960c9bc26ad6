# expect: forbidden-sql-function line=5
# Function names are case-insensitive.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT JaVa_MeThOd('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

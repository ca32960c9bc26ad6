# expect: forbidden-sql-function line=5
# The short qualifier.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT builtin.java_method('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

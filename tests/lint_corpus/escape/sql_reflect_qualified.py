# expect: forbidden-sql-function line=5
# A qualified built-in name.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT system.builtin.reflect('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

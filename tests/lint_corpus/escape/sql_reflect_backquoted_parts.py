# expect: forbidden-sql-function line=5
# Every part backquoted.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT `system`.`builtin`.`reflect`('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

# expect: forbidden-sql-function line=5
# A hint's parameters are expressions: REPARTITION evaluates them on the executors.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT /*+ REPARTITION(2, reflect('java.lang.System', 'getenv', 'PGPASSWORD')) */ * FROM o")

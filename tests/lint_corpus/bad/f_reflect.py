# expect: forbidden-sql-function line=3
orders = read_table("orders")
result_df = orders.withColumn("x", F.reflect(F.lit("java.lang.System"), F.lit("exit"), F.lit("0")))

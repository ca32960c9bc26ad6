# expect: sql-unreadable line=4 + forbidden-call line=4
orders = read_table("orders")
orders.createOrReplaceTempView("v")
result_df = spark.sql(f"SELECT order_id, '{os.getcwd()}' AS cwd FROM v")

# expect: forbidden-sql-function line=4
# A table-valued function off the allow-list.
o = read_table("orders")
logs = spark.sql("SELECT * FROM python_worker_logs()")
result_df = o

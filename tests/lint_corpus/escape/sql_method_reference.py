# expect: sql-unreadable line=5
# spark.sql taken as a value hides its text.
o = read_table("orders")
o.createOrReplaceTempView("o")
run = spark.sql
result_df = run("SELECT reflect('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

# expect: forbidden-sql-function line=5
# A line comment between the name and its parenthesis.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("""SELECT java_method -- the name
  ('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o""")

# expect: sql-unreadable line=6
# An interpolated function name cannot be checked.
o = read_table("orders")
o.createOrReplaceTempView("o")
fn = "refl" + "ect"
result_df = spark.sql(f"SELECT {fn}('java.lang.System', 'getenv', 'PGPASSWORD') AS x FROM o")

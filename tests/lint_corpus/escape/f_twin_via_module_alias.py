# expect: forbidden-sql-function line=4
# The Python twin through an alias of F.
G = F
method = G.java_method
o = read_table("orders")
result_df = o.withColumn("x", method(F.lit("java.lang.System"), F.lit("getenv"), F.lit("PGPASSWORD")))

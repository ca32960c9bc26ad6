# expect: sql-unreadable line=4
# Substitution happens in expressions too.
o = read_table("orders")
result_df = o.selectExpr("order_id", "'${spark.sparkgen.jdbc.password}' AS p")

# expect: forbidden-sql-function line=4
# Nested inside an allowed function in selectExpr.
o = read_table("orders")
result_df = o.selectExpr("order_id", "upper(reflect('java.lang.System', 'getenv', 'PGPASSWORD')) AS x")

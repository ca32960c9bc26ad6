# expect: forbidden-sql-function line=4
# agg() dict values are function names.
o = read_table("orders")
result_df = o.groupBy("customer_id").agg({"order_id": "java_method"})

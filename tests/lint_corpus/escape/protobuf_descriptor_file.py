# expect: forbidden-sql-function line=4
# from_protobuf reads a descriptor file.
o = read_table("orders")
result_df = o.withColumn("x", F.expr("from_protobuf(CAST(order_id AS BINARY), 'M', '/etc/passwd')"))

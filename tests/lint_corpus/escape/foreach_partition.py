# expect: python-udf line=4
# foreachPartition runs a Python function on executors.
o = read_table("orders")
o.foreachPartition(lambda rows: None)
result_df = o

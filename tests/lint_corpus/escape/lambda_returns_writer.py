# expect: write-forbidden line=4
# A lambda that hands out the writer.
o = read_table("orders")
(lambda d: d.write)(o).mode("overwrite").save("/tmp/leak")
result_df = o

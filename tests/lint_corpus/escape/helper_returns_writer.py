# expect: write-forbidden line=5
# A helper that hands out a writer.
o = read_table("orders")
def writer(d):
    return d.writeTo("leak")

writer(o).createOrReplace()
result_df = o

# expect: forbidden-call line=5 + write-forbidden line=5 + python-udf line=8
# mapInPandas with a side effect on every executor.
o = read_table("orders")
def leak(batches):
    open("/tmp/leak", "w").write("x")
    yield from batches

result_df = o.mapInPandas(leak, o.schema)

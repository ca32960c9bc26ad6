# expect: write-forbidden line=4
# DataFrame.mergeInto (Spark 4) writes into a table.
o = read_table("orders")
o.mergeInto("leak", F.lit(True)).whenNotMatched().insertAll().merge()
result_df = o

# expect: forbidden-read line=5
# A path in a comma-separated FROM list.
o = read_table("orders")
o.createOrReplaceTempView("o")
result_df = spark.sql("SELECT o.order_id FROM o, parquet.`/tmp/leak` l")

# expect: forbidden-read line=3
orders = read_table("orders")
result_df = orders.filter("order_id IN (SELECT order_id FROM parquet.`/tmp/leak`)")

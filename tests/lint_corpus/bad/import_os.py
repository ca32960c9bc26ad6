# expect: forbidden-import line=2
import os
orders = read_table("orders")
result_df = orders

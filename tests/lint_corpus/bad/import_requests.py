# expect: forbidden-import line=2
import requests
result_df = read_table("orders")

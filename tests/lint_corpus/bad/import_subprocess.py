# expect: forbidden-import line=3
orders = read_table("orders")
from subprocess import run
result_df = orders

# expect: forbidden-import line=3
# pyspark beyond the SQL API.
from pyspark import SparkContext
result_df = read_table("orders")

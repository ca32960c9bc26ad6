# expect: star-import line=3
# A star import (and it does not compile inside transform).
from pyspark.sql.functions import *
result_df = read_table("orders")

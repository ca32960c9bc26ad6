# expect: forbidden-sql-function line=5
# F.expr imported under another name.
from pyspark.sql.functions import expr as e
o = read_table("orders")
result_df = o.withColumn("x", e("reflect('java.lang.System', 'getenv', 'PGPASSWORD')"))

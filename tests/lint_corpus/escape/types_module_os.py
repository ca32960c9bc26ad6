# expect: forbidden-call line=3
# pyspark.sql.types imports os.
secret = T.os.environ.get("SPARKGEN_JDBC_PASSWORD")
result_df = read_table("orders")

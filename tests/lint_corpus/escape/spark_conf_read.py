# expect: forbidden-call line=3
# The session configuration can hold credentials.
password = spark.conf.get("spark.sparkgen.jdbc.password")
result_df = read_table("orders")

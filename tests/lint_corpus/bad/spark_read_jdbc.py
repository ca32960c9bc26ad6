# expect: forbidden-read line=3
orders = read_table("orders")
secrets = spark.read.jdbc("jdbc:postgresql://db/shop", "pg_shadow")
result_df = orders

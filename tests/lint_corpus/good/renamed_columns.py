from pyspark.sql import functions as F
from datetime import timedelta

customers = read_table("customers")
cutoff = params["as_of"] - timedelta(days=365)

result_df = (
    customers.withColumnRenamed("date_joined", "joined_on")
    .withColumnRenamed("name", "customer_name")
    .filter(F.col("joined_on") >= F.lit(cutoff))
    .select("customer_id", "customer_name", F.col("joined_on"), customers.email.alias("contact"))
)

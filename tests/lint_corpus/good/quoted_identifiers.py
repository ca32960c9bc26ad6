# Quoted identifiers (spaces, mixed case) from the "Gift Cards" table.
cards = read_table('public."Gift Cards"').alias("g")

result_df = (
    cards.filter(F.col("`Amount EUR`") > 0)
    .filter(cards["Card ID"].isNotNull())
    .withColumn("issued_month", F.date_trunc("month", F.col("IssuedAt")))
    .groupBy("issued_month")
    .agg(F.sum(F.col("g.`Amount EUR`")).alias("issued_eur"), F.count("Card ID").alias("cards"))
    .select("issued_month", "issued_eur", "cards")
)

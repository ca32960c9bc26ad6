# SQL expression strings: EXTRACT ... FROM is syntax, not a table read; a condition
# kept in a variable is still checked; the date comes from params["as_of"], not the clock.
orders = read_table("orders")
is_recent = f"order_date >= date_sub(DATE '{params['as_of']}', 30)"
year_col = "order_year"

result_df = (
    orders.filter(is_recent)
    .selectExpr("order_id", "EXTRACT(YEAR FROM order_date) AS order_year",
                "CAST(total_amount AS DECIMAL(12, 2)) AS amount",
                "CASE WHEN total_amount > 100 THEN 'big' ELSE 'small' END AS size")
    .where(F.col(year_col) > 2020)
    .filter("trim(BOTH ' ' FROM size) <> ''")
)

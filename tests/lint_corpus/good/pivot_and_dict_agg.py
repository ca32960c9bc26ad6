from collections import OrderedDict

products = read_table("products")
items = read_table("order_items")
categories = ["Books", "Games", "Garden"]

sales = items.join(products, ["product_id"], "inner")
result_df = (
    sales.groupBy("order_id")
    .pivot("category", categories)
    .agg({"quantity": "sum"})
    .join(sales.groupBy("order_id").agg({"unit_price": "max"}), "order_id", "inner")
    .select("order_id", *categories, "max(unit_price)")
)

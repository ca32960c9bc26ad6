# expect: forbidden-call line=4
# `os` is imported by the job's scaffolding, so the body could reach it unimported.
orders = read_table("orders")
key = os.environ["PGPASSWORD"]
result_df = orders

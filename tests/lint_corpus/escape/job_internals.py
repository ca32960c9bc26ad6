# expect: unknown-name line=3
# The job's own helpers hold the credentials.
creds = jdbc_options()
result_df = read_table("orders")

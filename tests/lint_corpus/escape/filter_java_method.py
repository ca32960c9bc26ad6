# expect: forbidden-sql-function line=4
# A filter string is SQL too.
o = read_table("orders")
result_df = o.filter("java_method('java.lang.System', 'getenv', 'PGPASSWORD') IS NOT NULL")

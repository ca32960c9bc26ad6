# expect: forbidden-call line=3
# vars() is a module's __dict__.
names = vars(F)
result_df = read_table("orders")

# expect: forbidden-call line=2
runner = __import__("subprocess")
result_df = read_table("orders")

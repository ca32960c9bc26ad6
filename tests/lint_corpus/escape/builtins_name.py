# expect: forbidden-call line=3
# __builtins__ is the interpreter's toolbox.
run = __builtins__["eval"]
result_df = read_table("orders")

# expect: forbidden-call line=3
# format_map walks attributes as well.
leak = "{p.__class__}".format_map({"p": params})
result_df = read_table("orders")

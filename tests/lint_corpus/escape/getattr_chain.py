# expect: forbidden-call line=3
# getattr spells an attribute as a string.
mods = getattr(getattr(F, "sys"), "modules")
result_df = read_table("orders")

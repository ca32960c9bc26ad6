# expect: unknown-name line=3 + forbidden-call line=3
# type() builds classes and reaches __mro__.
base = type(params).__mro__
result_df = read_table("orders")

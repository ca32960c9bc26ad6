# expect: forbidden-syntax line=3
# A class can override __getattr__ and friends.
class Sneaky:
    pass

result_df = read_table("orders")

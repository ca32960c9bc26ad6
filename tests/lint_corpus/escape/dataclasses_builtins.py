# expect: forbidden-call line=4
# dataclasses imports builtins.
import dataclasses
run = dataclasses.builtins.eval
result_df = read_table("orders")

# expect: forbidden-call line=4
# An allowed module's own imports reach the interpreter.
import typing
os_module = typing.sys.modules["os"]
result_df = read_table("orders")

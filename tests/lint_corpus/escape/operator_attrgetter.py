# expect: forbidden-call line=3
# attrgetter is getattr with a string.
from operator import attrgetter
env = attrgetter("__globals__")(period_bounds)
result_df = read_table("orders")

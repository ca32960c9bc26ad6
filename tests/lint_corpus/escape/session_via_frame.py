# expect: forbidden-call line=4 + forbidden-read line=4
# A frame's session reads files.
o = read_table("orders")
leak = o.sparkSession.read.text("/etc/passwd")
result_df = o

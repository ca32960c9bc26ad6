# expect: forbidden-sql-function line=4
# An XML parser: DTDs and external entities reach files.
o = read_table("orders")
result_df = o.withColumn("x", F.expr("xpath_string('<!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a>&e;</a>', '/a')"))

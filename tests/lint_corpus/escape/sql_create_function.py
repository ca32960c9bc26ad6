# expect: sql-not-select line=4
# A function backed by a jar.
o = read_table("orders")
spark.sql("CREATE TEMPORARY FUNCTION f AS 'x.Evil' USING JAR '/tmp/evil.jar'")
result_df = o

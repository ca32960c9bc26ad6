# expect: unknown-column line=3 suggest=status
tickets = read_table("support_tickets")
result_df = tickets.filter("stauts = 'Open' AND created_at IS NOT NULL")

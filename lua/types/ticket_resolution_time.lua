-- ticket_resolution_time — how fast support tickets get resolved, per creation month.
return {
  name = "ticket_resolution_time",
  summary = "Tickets created and resolved, resolution rate and resolution hours per month",
  tables = {"support_tickets"},
  params = {
    time_period = {type = "enum", values = {"last_7_days", "last_30_days", "last_month", "last_90_days",
                   "last_quarter", "month_to_date", "ytd", "all"},
                   default = "last_90_days", doc = "which tickets count, by created_at"},
    as_of = {type = "date", doc = "reference date for the period (default: today)"},
  },
  complexity = "medium",
  checks = {
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"month", "tickets_created", "tickets_resolved",
                                           "tickets_unresolved", "resolution_rate",
                                           "avg_resolution_hours", "median_resolution_hours",
                                           "max_resolution_hours"}},
    {rule = "not_null", columns = {"month", "tickets_created", "tickets_resolved", "resolution_rate"}},
    {rule = "unique", columns = {"month"}},
    {rule = "positive", column = "tickets_created"},
    {rule = "value_between", column = "resolution_rate", min = 0, max = 1},
    {rule = "positive", column = "avg_resolution_hours"},
  },
  guidance = [[
Output one row per month in which tickets were created (tickets with created_at in
the period), sorted by month:
- month: first day of the month of created_at (a date, so the year is kept).
- tickets_created: tickets created that month.
- tickets_resolved: those with status = 'Resolved' (resolved_at is set only for them).
- tickets_unresolved: tickets_created - tickets_resolved ('Open' and 'In Progress').
- resolution_rate: round(tickets_resolved / tickets_created, 4).
- avg_resolution_hours, median_resolution_hours, max_resolution_hours: over resolved
  tickets, hours from created_at to resolved_at, rounded to 2 decimals; the median is
  exact (percentile_cont(0.5)); null when none was resolved.
Pitfalls: months without their year merge January 2025 with January 2026. Compute
durations from the timestamps, not from dates. The period filters created_at with
start <= created_at < end from period_bounds.]],
  description = [[
Support ticket resolution for tickets created in period $(time_period) as of $(as_of),
per creation month. Columns: month (first day); tickets_created; tickets_resolved
(status Resolved); tickets_unresolved; resolution_rate = resolved / created; average,
median and maximum hours from created_at to resolved_at of resolved tickets.]],
  template = "types/ticket_resolution_time.py",
}

-- examples/recipes/weekly_pack.lua — a batch: every report the team refreshes weekly,
-- generated in parallel, one job file each; failures are reported per request.
--   sparkgen run examples/recipes/weekly_pack.lua OUT_DIR
local sg = require "sparkgen"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
assert(sg.configure{schema = here .. "/../shop/schema.json"})
local out_dir = arg[1]
if not out_dir then sg.usage("sparkgen run examples/recipes/weekly_pack.lua OUT_DIR") end

local requests = {
  {source = "orders", type = "daily_sales", context = {time_period = "last_7_days"}},
  {source = "customers", type = "top_customers", context = {limit = 20, time_period = "last_90_days"}},
  {source = "products", type = "product_performance", context = {time_period = "last_30_days"}},
  {source = "support_tickets", type = "ticket_resolution_time"},
  concurrency = 4,
}
for i, r in ipairs(requests) do r.job = ("%s/%02d_%s.py"):format(out_dir, i, r.type) end

local results = sg.generate_all(requests)
local failed = 0
for i, r in ipairs(results) do
  if r.error then
    failed = failed + 1
    print(("%-22s FAILED %s"):format(requests[i].type, r.error))
  else
    print(("%-22s ok  %s"):format(requests[i].type, requests[i].job))
  end
end
return failed == 0 and 0 or 1

-- examples/recipes/monthly.lua — one request, printed and written as a job.
--   sparkgen run examples/recipes/monthly.lua [OUT_DIR]
-- Uses the example shop snapshot, so it runs offline with the built-in templates.
local sg = require "sparkgen"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
assert(sg.configure{schema = here .. "/../shop/schema.json"})

local out_dir = arg[1] or "."
local result, err = sg.generate{
  source = "orders",
  type = "revenue_by_category",
  context = {time_period = "last_month"},
  job = out_dir .. "/monthly_revenue.py",
}
if not result then error(err, 0) end

print(("-- %s, complexity %s"):format(result.provider, result.estimated_complexity))
for line in result.description:gmatch("[^\n]+") do print("-- " .. line) end
for _, check in ipairs(result.validation_checks) do print("-- check: " .. check.description) end
print(result.code)
print(("-- job written to %s/monthly_revenue.py"):format(out_dir))

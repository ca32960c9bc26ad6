-- bench/plancheck_bench.lua — the plan check's cost per candidate (run by
-- bench/plancheck.sh through `sparkgen run`): the first check in a process (the local
-- Spark session starts), then the median of warm checks, against the lint gate of the
-- same code measured in the same invocation. No database: the tables are empty frames.
--   sparkgen run bench/plancheck_bench.lua SCHEMA_JSON RUNS
local config = require "sparkgen.config"
local generator = require "sparkgen.generator"
local lib = dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "bench") .. "/lib.lua")
local plancheck = require "sparkgen.plancheck"
local sys = require "sparkgen.sys"

local schema, runs = arg[1], tonumber(arg[2]) or 10
local cfg = assert(config.load{files = {}, flags = {schema = schema, cache = {enabled = false}}})
-- The template's answer is the candidate: lint it once to learn its tables.
local result = assert(generator.generate({source = "orders", type = "revenue_by_category",
                                          context = {time_period = "all", as_of = "2026-11-15"}}, cfg))
local S = generator.schema(cfg)
local types = require "sparkgen.types"
local typedef = types.get("revenue_by_category")

local function timed(fn)
  local t0 = sys.monotonic()
  fn()
  return (sys.monotonic() - t0) * 1000
end

local first = timed(function() assert(plancheck.check(cfg, result, S, typedef)) end)
local warm, lints = {}, {}
for i = 1, runs do
  warm[i] = timed(function()
    local pc = assert(plancheck.check(cfg, result, S, typedef))
    assert(pc.ok, "the template's code failed its plan check")
  end)
  lints[i] = timed(function()
    assert(require("sparkgen.lint").check(result.code, {schema = S, policy = cfg.lint}))
  end)
end
local mw, ml = lib.median(warm), lib.median(lints)
print(("plan check per candidate: first %.0f ms (local Spark session start-up included); warm median %.0f ms over %d runs"
  .. " vs lint of the same code %.0f ms: %.1fx"):format(first, mw, runs, ml, mw / ml))
require("sparkgen.sparkserver").close_all()
return 0

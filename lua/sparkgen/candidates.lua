-- candidates.lua — `--candidates N`: ask for N answers, gate each (lint + plan check,
-- with its own repair loop), run the survivors on the same bounded sample of the real
-- tables in the long-lived Spark session (py/samplerun.py, read-only), group them by
-- the signature of their rows, and return the answer of the largest group whose rows
-- pass the type's validation checks. Ties go to the group with the fewest warnings,
-- then to the simplest plan (fewest lines of Spark's optimized plan; of code when Spark
-- cannot say).
--
--   candidates.generate(req, cfg, opts) → result | nil, message
-- The result is the chosen candidate's, with usage and request ids summed over all N
-- and `candidates = {total, survivors, agreeing, groups = {...}, sample_rows,
-- checks_passed}`. Candidate k > 1 is its own request (see generator.lua), so the
-- response cache makes a re-run free.
local generator = require "sparkgen.generator"
local job = require "sparkgen.job"
local util = require "sparkgen.util"

local M = {}

local function add_usage(into, u)
  for k, v in pairs(u or {}) do
    if type(v) == "number" then into[k] = (into[k] or 0) + v end
  end
end

local function count_lines(code)
  local n = 0
  for line in (code or ""):gmatch("[^\n]+") do if line:match("%S") and not line:match("^%s*#") then n = n + 1 end end
  return n
end

-- Primary keys, so each table's sample is its first rows in key order (an order's lines
-- then mostly come with the order).
local function sample_tables(S, names)
  local out = {}
  for _, name in ipairs(names or {}) do
    local t = S:table(name)
    if t then out[name] = {order_by = util.array(util.copy(t.primary_key or {}))} end
  end
  return out
end

local function run_sample(cfg, server, result, S, dir, k)
  local types = require "sparkgen.types"
  local typedef = result.request.type and types.get(result.request.type) or nil
  local text, err = job.render(result, {cfg = cfg, schema = S, typedef = typedef})
  if not text then return {ok = false, error = err} end
  local path = ("%s/candidate_%d.py"):format(dir, k)
  assert(util.write_file(path, text))
  local ok, werr = server:send({op = "sample", job = path, tables = sample_tables(S, result.tables_used),
                                sample_rows = cfg.sample_rows})
  if not ok then return nil, werr end
  local ev, nerr = server:next(900)
  if not ev then return nil, nerr end
  if ev.event ~= "sample" then return nil, "the sample run failed: " .. tostring(ev.message) end
  return ev
end

-- Order two groups: passing checks, size, fewest warnings, simplest plan.
local function better(a, b)
  if a.passed ~= b.passed then return a.passed end
  if #a.members ~= #b.members then return #a.members > #b.members end
  if a.warnings ~= b.warnings then return a.warnings < b.warnings end
  if a.plan_size ~= b.plan_size then return a.plan_size < b.plan_size end
  return a.first < b.first
end

function M.generate(req, cfg, opts)
  opts = opts or {}
  local n = math.tointeger(cfg.candidates) or 1
  if n < 2 then return generator.generate(req, cfg, opts) end
  local sample_rows = math.tointeger(cfg.sample_rows) or 1000
  local requests = {}
  for k = 1, n do
    local r = util.copy(req)
    r.variant = {index = k, total = n}
    requests[k] = r
  end
  -- The session starts while the answers are generated (and serves the plan check).
  local sparkserver = require "sparkgen.sparkserver"
  local server, serr = sparkserver.get(cfg, {jdbc = true})
  if not server then return nil, "--candidates runs the answers on a sample of the real tables: " .. serr end
  server:start()
  local outcomes = generator.generate_all(requests, cfg, {purpose = "candidates", no_cache = opts.no_cache,
    record_dir = opts.record_dir, replay_dir = opts.replay_dir, concurrency = opts.concurrency})
  local usage, ids, all_cached, attempts, cost = {}, util.array({}), true, 0, 0
  local survivors, first_error = {}, nil
  for k, o in ipairs(outcomes) do
    local r = o.result
    if r then
      if r.provider == "template" then
        return nil, ("--candidates needs a model: type '%s' is answered by its template (add --provider anthropic)")
          :format(tostring(r.request.type))
      end
      add_usage(usage, r.usage)
      -- One unknown price makes the total unknown, never too low.
      if type(r.cost_usd) == "number" and cost ~= util.json_null then cost = cost + r.cost_usd else cost = util.json_null end
      for _, id in ipairs(r.request_ids or {}) do ids[#ids + 1] = id end
      all_cached = all_cached and r.cached
      attempts = attempts + (r.attempts or 0)
      if r.ok then survivors[#survivors + 1] = {k = k, result = r} end
    end
    first_error = first_error or o.error
  end
  if #survivors == 0 then
    -- Nothing passed the gate: the first candidate says why (its findings or error).
    local o = outcomes[1]
    if o.error then return nil, o.error end
    o.result.usage, o.result.request_ids, o.result.cost_usd = usage, ids, cost
    o.result.candidates = {total = n, survivors = 0, agreeing = 0, groups = util.array({}), sample_rows = sample_rows}
    return o.result
  end

  local dir, derr = util.tempdir("sparkgen-candidates")
  if not dir then return nil, derr end
  local S = generator.schema(cfg)
  local groups, by_sig = {}, {}
  for _, s in ipairs(survivors) do
    local ev, err = run_sample(cfg, server, s.result, S, dir, s.k)
    if not ev then util.remove_tree(dir) return nil, err end
    s.sample = ev
    if ev.ok then
      local g = by_sig[ev.signature]
      if not g then
        g = {signature = ev.signature, members = {}, first = s.k,
             passed = #(ev.failed_checks or {}) == 0, failed_checks = ev.failed_checks or {},
             warnings = #(s.result.warnings or {}),
             plan_size = math.tointeger(ev.plan_size) or count_lines(s.result.code)}
        by_sig[ev.signature] = g
        groups[#groups + 1] = g
      end
      g.members[#g.members + 1] = s
    end
  end
  util.remove_tree(dir)
  if #groups == 0 then
    return nil, ("no candidate ran on the sample: %s"):format(tostring(survivors[1].sample.error))
  end
  table.sort(groups, better)
  local best = groups[1]
  local chosen = best.members[1].result
  local summary = util.array({})
  for _, g in ipairs(groups) do
    local members = util.array({})
    for _, m in ipairs(g.members) do members[#members + 1] = m.k end
    summary[#summary + 1] = {signature = g.signature:sub(1, 16), size = #g.members, candidates = members,
                             passed_checks = g.passed, failed_checks = util.array(g.failed_checks),
                             rows = g.members[1].sample.rows}
  end
  local rejected = util.array({})
  for _, s in ipairs(survivors) do
    if not s.sample.ok then rejected[#rejected + 1] = {candidate = s.k, error = s.sample.error} end
  end
  chosen.usage, chosen.request_ids, chosen.cached, chosen.attempts = usage, ids, all_cached, attempts
  chosen.cost_usd = cost
  chosen.candidates = {total = n, survivors = #survivors, agreeing = #best.members, groups = summary,
                       sample_rows = sample_rows, checks_passed = best.passed, failed_on_sample = rejected}
  if not best.passed then
    chosen.warnings[#chosen.warnings + 1] = ("no candidate's rows passed the validation checks on the %d-row sample (%s); "
      .. "the largest group was chosen"):format(sample_rows, table.concat(best.failed_checks, ", "))
  end
  return chosen
end

return M

-- eval.lua — the eval harness: a suite of cases (a request plus a reference SQL query or
-- expected rows) is generated with the configured provider, checked by the lint gate,
-- rendered into jobs and run in ONE Spark session (py/sparkrun.py), and each job's rows
-- are compared with the reference the way BIRD/Spider score execution accuracy.
-- Provider answers can be recorded and replayed, so a suite runs offline.
--
--   eval.load_suite(path)             → suite | nil, message
--   eval.generate(suite, cfg, opts)   → outcomes (generator.generate_all's), progress
--   eval.run(suite, cfg, opts)        → report | nil, message
--   eval.format(report)               → a text table with a summary line
-- opts = {record_dir=, replay_dir=, master=, only = {name = true}|nil, no_cache=}
local generator = require "sparkgen.generator"
local job = require "sparkgen.job"
local spark = require "sparkgen.spark"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

local CASE_FIELDS = {name = true, source = true, type = true, text = true, context = true,
                     reference_sql = true, reference_file = true, expected_rows = true,
                     ordered = true, expect = true, note = true}

--- Load a suite file: a Lua chunk returning {name=, source=, context=, cases={...}}.
--- Each case: {name=, type= | text=, source=?, context=?, reference_sql= |
--- reference_file= (relative to the suite) | expected_rows=, ordered=?, expect=?}.
--- `expect = "fail"` marks a case whose recorded answer is wrong on purpose.
function M.load_suite(path)
  -- a suite is user-written Lua: it runs in the sandbox, under its budgets
  local sandbox = require "sparkgen.sandbox"
  local ok, suite = sandbox.dofile(path, sandbox.env(), util.read_file)
  if not ok then return nil, ("suite %s"):format(suite) end
  if type(suite) ~= "table" or type(suite.cases) ~= "table" or #suite.cases == 0 then
    return nil, ("suite %s: must return a table with a non-empty `cases` list"):format(path)
  end
  local dir = util.dirname(path)
  local seen = {}
  for i, c in ipairs(suite.cases) do
    local where = ("suite %s: case %d%s"):format(path, i, type(c) == "table" and c.name and (" (" .. tostring(c.name) .. ")") or "")
    if type(c) ~= "table" then return nil, where .. ": must be a table" end
    for k in pairs(c) do
      if not CASE_FIELDS[k] then
        return nil, ("%s: unknown field '%s'%s"):format(where, tostring(k), util.suggest(tostring(k), util.sorted_keys(CASE_FIELDS)))
      end
    end
    if type(c.name) ~= "string" or c.name == "" then return nil, where .. ": needs a name" end
    if seen[c.name] then return nil, where .. ": duplicate name" end
    seen[c.name] = true
    if not c.type and not c.text then return nil, where .. ": needs a type or a text" end
    c.source = c.source or suite.source
    if not c.source then return nil, where .. ": needs a source table (or a suite-wide source)" end
    local context = util.copy(suite.context or {})
    for k, v in pairs(c.context or {}) do context[k] = v end
    c.context = context
    if c.reference_file then
      local text, rerr = util.read_file(dir .. "/" .. c.reference_file)
      if not text then return nil, ("%s: reference_file: %s"):format(where, rerr) end
      c.reference_sql = text
    end
    if not c.reference_sql and not c.expected_rows then
      return nil, where .. ": needs reference_sql, reference_file or expected_rows"
    end
  end
  suite.path = path
  return suite
end

local function selected(suite, only)
  local out = {}
  for _, c in ipairs(suite.cases) do
    if not only or only[c.name] then out[#out + 1] = c end
  end
  return out
end

--- Generate every case's code: generator.generate_all's outcomes (input order) and
--- progress. A replay needs no API key: answers come from the recordings only.
function M.generate(suite, cfg, opts)
  opts = opts or {}
  local requests = {}
  for i, c in ipairs(selected(suite, opts.only)) do
    requests[i] = {source = c.source, type = c.type, text = c.text, context = util.copy(c.context)}
  end
  local restore
  if opts.replay_dir and not os.getenv("ANTHROPIC_API_KEY") then
    -- choose_provider insists on a key for model-bound requests; a replay never sends
    -- one (a missing recording is an error, not a network call).
    sys.setenv("ANTHROPIC_API_KEY", "replay-without-key")
    restore = true
  end
  local outcomes, progress = generator.generate_all(requests, cfg, {
    record_dir = opts.record_dir, replay_dir = opts.replay_dir, no_cache = opts.no_cache,
  })
  if restore then sys.setenv("ANTHROPIC_API_KEY", nil) end
  return outcomes, progress
end

local function findings_text(result)
  local parts = {}
  for i, f in ipairs(result.findings or {}) do
    if i > 2 then parts[#parts + 1] = ("and %d more"):format(#result.findings - 2) break end
    parts[#parts + 1] = ("line %s: %s: %s"):format(tostring(f.line or "?"), tostring(f.id), tostring(f.message))
  end
  return table.concat(parts, "; ")
end

-- Run the cases file in one Spark session; returns {name → result} or nil, message.
-- The runner gets what a job gets (spark.lua): the allow-listed environment and the
-- credentials in a 0600 hand-over file it deletes before its session starts.
local function run_spark(cfg, cases_path, log_path, opts)
  local submit, serr = spark.find_submit(cfg)
  if not submit then return nil, serr end
  local jdbc, jerr = spark.jdbc(cfg)
  if not jdbc then return nil, jerr end
  local paths = require "sparkgen.paths"
  local runner = paths.find("py", "sparkrun.py") or (paths.builtin_root() .. "/py/sparkrun.py")
  local handoff, herr = spark.write_handoff(util.dirname(cases_path), jdbc, opts.remote or cfg.spark.remote or nil)
  if not handoff then return nil, herr end
  local env = spark.environment(cfg, submit, {master = opts.master, handoff = handoff})
  local argv = spark.argv(cfg, submit, "x", {}, {socket = jdbc.socket})
  env.SPARKGEN_SPARK_MASTER = opts.master or cfg.spark.master or "local[*]"
  env.SPARKGEN_SPARK_PACKAGES = ""
  for i, a in ipairs(argv) do
    if a == "--packages" then env.SPARKGEN_SPARK_PACKAGES = argv[i + 1] end
    if a == "--jars" then env.SPARKGEN_SPARK_JARS = argv[i + 1] end
  end
  local p, perr = require("sparkgen.proc").spawn{argv = {spark.python(cfg, submit), runner, cases_path},
                                                 env = env, stdin = "null", stdout = "pipe", stderr = "pipe"}
  if not p then return nil, "cannot start the Spark runner: " .. tostring(perr) end
  local out, err_text = p:communicate()
  p:wait()
  p:close()
  os.remove(handoff)
  util.write_file(log_path, err_text or "")
  local results = {}
  for line in (out or ""):gmatch("[^\n]+") do
    local r = util.json_decode(line)
    if type(r) == "table" and r.name then results[r.name] = r end
  end
  return results
end

local function last_lines(path, n)
  local text = util.read_file(path) or ""
  local lines = {}
  for line in text:gmatch("[^\n]+") do
    if not line:find(" INFO ", 1, true) then lines[#lines + 1] = line end
  end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

--- Run a suite: generate, lint, run on Spark, compare. Returns a report:
--- {suite=, cases = {{name=, status = "pass"|"error"|"lint"|"runtime"|"wrong"|"checks",
---   reason=, expect=, attempts=, provider=, cached=, usage=, rows=, expected_rows=,
---   seconds=}}, summary = {...}} or nil, message when Spark cannot run at all.
function M.run(suite, cfg, opts)
  opts = opts or {}
  local started = sys.monotonic()
  local cases = selected(suite, opts.only)
  if #cases == 0 then return nil, "no case selected" end
  local outcomes, _ = M.generate(suite, cfg, opts)
  local generated = sys.monotonic()

  local dir, derr = sys.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/sparkgen-eval") -- private: 0700
  if not dir then return nil, derr end
  local S = generator.schema(cfg)
  local types = require "sparkgen.types"
  local rows, spark_cases = {}, {}
  for i, c in ipairs(cases) do
    local o = outcomes[i] or {error = "no outcome"}
    local row = {name = c.name, expect = c.expect, status = "pending"}
    rows[i] = row
    local r = o.result
    if r then
      row.attempts, row.provider, row.cached, row.usage, row.model = r.attempts, r.provider, r.cached, r.usage, r.model
    end
    if o.error then
      row.status, row.reason = "error", "generation failed: " .. util.redact(tostring(o.error))
    elseif r.ok == false then
      row.status, row.reason = "lint", "lint findings: " .. findings_text(r)
    else
      local typedef = c.type and types.get(c.type) or nil
      local text, jerr = job.render(r, {cfg = cfg, schema = S, typedef = typedef})
      local path = ("%s/case_%03d.py"):format(dir, i)
      if not text then
        row.status, row.reason = "error", "job rendering failed: " .. tostring(jerr)
      else
        assert(util.write_file(path, text))
        spark_cases[#spark_cases + 1] = {name = c.name, job = path, reference_sql = c.reference_sql,
                                         expected_rows = c.expected_rows, ordered = c.ordered or false}
      end
    end
  end

  local log_path = dir .. "/spark.log"
  if #spark_cases > 0 then
    local cases_path = dir .. "/cases.json"
    assert(util.write_file(cases_path, util.json_encode(spark_cases)))
    local results, err = run_spark(cfg, cases_path, log_path, opts)
    if not results then util.remove_tree(dir) return nil, err end
    for _, row in ipairs(rows) do
      if row.status == "pending" then
        local res = results[row.name]
        if not res then
          row.status, row.reason = "runtime", "the Spark session ended before this case: "
            .. (last_lines(log_path, 1):match("[^\n]*$") or "")
        else
          row.rows, row.expected_rows, row.seconds = res.rows, res.expected_rows, res.seconds
          local failed = type(res.failed_checks) == "table" and res.failed_checks or {}
          if res.error and res.error ~= util.json_null then
            row.status, row.reason = "runtime", "runtime error: " .. tostring(res.error)
          elseif res.diff and res.diff ~= "" then
            row.status, row.reason = "wrong", "wrong result: " .. res.diff
          elseif #failed > 0 then
            row.status, row.reason = "checks", "validation failed: " .. table.concat(failed, ", ")
          else
            row.status = "pass"
          end
        end
      end
    end
  end
  local finished = sys.monotonic()
  util.remove_tree(dir)

  local s = {cases = #rows, passed = 0, attempts = 0, repairs = 0, tokens_in = 0, tokens_out = 0,
             cache_hits = 0, cost_usd = 0, seconds = finished - started,
             generate_seconds = generated - started, spark_seconds = finished - generated,
             deliberate_failures_caught = 0, deliberate_failures = 0}
  for _, row in ipairs(rows) do
    if row.status == "pass" then s.passed = s.passed + 1 end
    if row.expect == "fail" then
      s.deliberate_failures = s.deliberate_failures + 1
      if row.status ~= "pass" then s.deliberate_failures_caught = s.deliberate_failures_caught + 1 end
    end
    s.attempts = s.attempts + (row.attempts or 0)
    if row.provider and row.provider ~= "template" and row.attempts then
      s.repairs = s.repairs + math.max(0, row.attempts - 1)
    end
    if row.cached then s.cache_hits = s.cache_hits + 1 end
    local u = row.usage or {}
    local tin = (u.input_tokens or 0) + (u.cache_creation_input_tokens or 0) + (u.cache_read_input_tokens or 0)
    s.tokens_in = s.tokens_in + tin
    s.tokens_out = s.tokens_out + (u.output_tokens or 0)
    -- Priced by llm/prices.lua (and the config's prices); one unknown price makes the
    -- total unknown rather than wrong.
    local usd = require("sparkgen.llm").cost(row.model, u, {cfg = cfg})
    if usd and s.cost_usd ~= util.json_null then s.cost_usd = s.cost_usd + usd else s.cost_usd = util.json_null end
  end
  s.pass_rate = s.cases > 0 and s.passed / s.cases or 0
  for _, row in ipairs(rows) do row.usage = nil; row.model = nil end
  return {suite = suite.name or suite.path, cases = rows, summary = s}
end

--- The report as a table: one line per case, then the summary.
function M.format(report)
  local width = 4
  for _, row in ipairs(report.cases) do width = math.max(width, #row.name) end
  local out = {("%-" .. width .. "s  %-7s  %s"):format("CASE", "STATUS", "DETAIL")}
  for _, row in ipairs(report.cases) do
    local detail = row.reason
    if row.status == "pass" then
      local n = math.tointeger(row.rows)
      detail = ("%s row%s%s"):format(n and tostring(n) or "?", n == 1 and "" or "s", row.seconds and (" in %.1f s"):format(row.seconds) or "")
    end
    if row.expect == "fail" then detail = "(wrong on purpose) " .. tostring(detail) end
    out[#out + 1] = ("%-" .. width .. "s  %-7s  %s"):format(row.name, row.status, detail)
  end
  local s = report.summary
  out[#out + 1] = ""
  out[#out + 1] = ("%d/%d passed (%.1f%%) · attempts %d · repairs %d · tokens %d in / %d out · "
    .. "cache hits %d · cost %s · %.1f s (generate %.1f s, Spark %.1f s)"):format(
    s.passed, s.cases, 100 * s.pass_rate, s.attempts, s.repairs, s.tokens_in, s.tokens_out,
    s.cache_hits, require("sparkgen.llm").prices.format(s.cost_usd ~= util.json_null and s.cost_usd or nil),
    s.seconds, s.generate_seconds, s.spark_seconds)
  if s.deliberate_failures > 0 then
    out[#out + 1] = ("deliberately wrong answers caught: %d/%d"):format(s.deliberate_failures_caught, s.deliberate_failures)
  end
  return table.concat(out, "\n") .. "\n"
end

return M

-- eval.lua — the eval harness: a suite of cases (a request plus a reference SQL query or
-- expected rows) is generated with the configured provider, checked by the lint gate,
-- rendered into jobs and run in ONE long-lived Spark session (sparkserver.lua), and each
-- job's rows are compared with the reference the way BIRD/Spider score execution
-- accuracy (py/sparkcompare.py). Provider answers can be recorded and replayed, so a
-- suite runs offline. The report is built by eval_report.lua.
--
--   eval.load_suite(path)             → suite | nil, message
--   eval.generate(suite, cfg, opts)   → outcomes (generator.generate_all's), progress
--   eval.run(suite, cfg, opts)        → report | nil, message
-- opts = {record_dir=, replay_dir=, master=, remote=, only = {name = true}|nil, no_cache=,
--         on_progress = function(ev)}  ev = {phase = "generate"|"spark", done=, total=,
--         case = name of the case running now | nil, elapsed = seconds}
local generator = require "sparkgen.generator"
local job = require "sparkgen.job"
local report = require "sparkgen.eval_report"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

M.format = report.format

local SUITE_FIELDS = {name = true, source = true, context = true, cases = true, schema = true, note = true}
local CASE_FIELDS = {name = true, source = true, type = true, text = true, context = true,
                     reference_sql = true, reference_file = true, expected_rows = true, columns = true,
                     ordered = true, expect = true, match = true, map = true, note = true}
M.EXPECTS = {"pass", "wrong"}
M.MATCHES = {"name", "positional"}

local function one_of(value, allowed, what)
  for _, a in ipairs(allowed) do if value == a then return true end end
  return nil, ("%s must be %s, got '%s'%s"):format(what, table.concat(allowed, " or "), tostring(value),
    util.suggest(tostring(value), allowed))
end

local function unknown_field(where, fields, t)
  for k in pairs(t) do
    if not fields[k] then
      return ("%s: unknown field '%s'%s"):format(where, tostring(k), util.suggest(tostring(k), util.sorted_keys(fields)))
    end
  end
end

-- A case's own fields, checked one by one; returns an error message or nil.
local function check_case(c, where)
  local bad = unknown_field(where, CASE_FIELDS, c)
  if bad then return bad end
  if type(c.name) ~= "string" or c.name == "" then return where .. ": needs a name" end
  if not c.type and not c.text then return where .. ": needs a type or a text" end
  if c.expect ~= nil then
    local ok, err = one_of(c.expect, M.EXPECTS, "expect")
    if not ok then return where .. ": " .. err end
  end
  if c.match ~= nil then
    local ok, err = one_of(c.match, M.MATCHES, "match")
    if not ok then return where .. ": " .. err end
  end
  if c.map ~= nil then
    if type(c.map) ~= "table" then return where .. ": map must be a table {result_column = \"reference_column\"}" end
    for k, v in pairs(c.map) do
      if type(k) ~= "string" or type(v) ~= "string" then
        return where .. ": map must map result column names to reference column names (strings)"
      end
    end
  end
  if c.columns ~= nil then
    if not c.expected_rows then return where .. ": columns names the columns of expected_rows, which it has none of" end
    if type(c.columns) ~= "table" or #c.columns == 0 then return where .. ": columns must be a list of names" end
  end
end

--- Load a suite file: a Lua chunk returning {name=, source=, context=, schema=, cases={...}}.
--- `schema` is the snapshot (relative to the suite) the recorded answers were made
--- against; it is used when no schema is configured. Each case: {name=, type= | text=,
--- source=?, context=?, reference_sql= | reference_file= (relative to the suite) |
--- expected_rows= (+ columns=?), ordered=?, match = "name"|"positional", map=?,
--- expect = "pass"|"wrong"}. `expect = "wrong"` marks a case whose answer is known wrong.
function M.load_suite(path)
  -- a suite is user-written Lua: it runs in the sandbox, under its budgets
  local sandbox = require "sparkgen.sandbox"
  local ok, suite = sandbox.dofile(path, sandbox.env(), util.read_file)
  if not ok then return nil, ("suite %s"):format(suite) end
  if type(suite) ~= "table" or type(suite.cases) ~= "table" or #suite.cases == 0 then
    return nil, ("suite %s: must return a table with a non-empty `cases` list"):format(path)
  end
  local bad = unknown_field("suite " .. path, SUITE_FIELDS, suite)
  if bad then return nil, bad end
  local dir = util.dirname(path)
  if suite.schema ~= nil then
    if type(suite.schema) ~= "string" then return nil, ("suite %s: schema must be a file name"):format(path) end
    suite.schema_path = suite.schema:sub(1, 1) == "/" and suite.schema or (dir .. "/" .. suite.schema)
    if not util.file_exists(suite.schema_path) then
      return nil, ("suite %s: schema %s does not exist"):format(path, suite.schema_path)
    end
  end
  local seen = {}
  for i, c in ipairs(suite.cases) do
    local where = ("suite %s: case %d%s"):format(path, i, type(c) == "table" and c.name and (" (" .. tostring(c.name) .. ")") or "")
    if type(c) ~= "table" then return nil, where .. ": must be a table" end
    local cerr = check_case(c, where)
    if cerr then return nil, cerr end
    if seen[c.name] then return nil, where .. ": duplicate name" end
    seen[c.name] = true
    c.expect = c.expect or "pass"
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
  local gen_opts = {record_dir = opts.record_dir, replay_dir = opts.replay_dir, no_cache = opts.no_cache,
                    on_progress = opts.on_progress, purpose = "eval"}
  local outcomes, progress
  if (cfg.candidates or 1) > 1 then
    -- --candidates: each case is its own vote among N answers (candidates.lua).
    outcomes, progress = {}, {total = #requests, done = 0}
    for i, req in ipairs(requests) do
      local r, err = generator.generate(req, cfg, gen_opts)
      outcomes[i] = r and {result = r} or {error = err}
      progress.done = i
      if opts.on_progress then opts.on_progress(progress) end
    end
  else
    outcomes, progress = generator.generate_all(requests, cfg, gen_opts)
  end
  if restore then sys.setenv("ANTHROPIC_API_KEY", nil) end
  return outcomes, progress
end

local function findings_text(findings)
  local parts = {}
  for i, f in ipairs(findings or {}) do
    if i > 2 then parts[#parts + 1] = ("and %d more"):format(#findings - 2) break end
    parts[#parts + 1] = ("line %s: %s: %s"):format(tostring(f.line or "?"), tostring(f.id), tostring(f.message))
  end
  return table.concat(parts, "; ")
end

-- Judge one case from its Spark result.
local function judge(row, res)
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

-- Every reference came back empty, or every reference failed the same way: the
-- database is not the one the suite was written for. One clear line instead of a
-- "wrong result" per case.
function M.database_problem(rows, suite, n_run)
  local refs, empty, ref_errors, first_error = 0, 0, 0, nil
  for _, row in ipairs(rows) do
    if row.expected_rows ~= nil and row.expected_rows ~= util.json_null then
      refs = refs + 1
      if row.expected_rows == 0 then empty = empty + 1 end
    end
    local reason = tostring(row.reason or "")
    if reason:find("reference query failed:", 1, true) then
      ref_errors = ref_errors + 1
      first_error = first_error or reason:match("reference query failed: (.*)")
    end
  end
  local name = suite.name or suite.path
  if refs >= 2 and empty == refs then
    return ("the database has no data for suite '%s': all %d reference queries returned no rows "
      .. "(load the suite's data first; for examples/eval/shop.lua see README, \"Evaluating\")"):format(name, refs)
  end
  if n_run >= 2 and ref_errors == n_run then
    return ("the database does not fit suite '%s': every reference query failed (%s)"):format(name, first_error)
  end
end

--- Run a suite: generate, lint, run on Spark, compare. Returns the report
--- (eval_report.build) or nil, message when Spark cannot run at all or the database
--- has no data for the suite.
function M.run(suite, cfg, opts)
  opts = opts or {}
  local started = sys.monotonic()
  local cases = selected(suite, opts.only)
  if #cases == 0 then return nil, "no case selected" end
  local progress = opts.on_progress or function() end
  -- Without the suite's database every case would fail the same way: say it once.
  local conn, cerr = require("sparkgen.pg").connect((cfg.db and cfg.db ~= "") and cfg.db or nil,
                                                     {connect_timeout_s = cfg.connect_timeout_s})
  if not conn then
    return nil, "eval runs the jobs on the suite's database (--db, SPARKGEN_DB, DATABASE_URL or PG*): "
      .. util.redact(tostring(cerr))
  end
  conn:close()
  local sparkserver = require "sparkgen.sparkserver"
  -- Start the session first, so the JVM warms up while the answers are generated.
  local server, serr = sparkserver.get(cfg, {jdbc = true, master = opts.master, remote = opts.remote})
  if not server then return nil, serr end
  server:start()
  local outcomes = M.generate(suite, cfg, {
    record_dir = opts.record_dir, replay_dir = opts.replay_dir, no_cache = opts.no_cache, only = opts.only,
    on_progress = function(p)
      progress{phase = "generate", done = p.done, total = p.total, elapsed = sys.monotonic() - started}
    end,
  })
  local generated = sys.monotonic()

  local dir, derr = sys.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/sparkgen-eval") -- private: 0700
  if not dir then return nil, derr end
  local S = generator.schema(cfg)
  local types = require "sparkgen.types"
  local rows, spark_cases, by_name = {}, {}, {}
  for i, c in ipairs(cases) do
    local o = outcomes[i] or {error = "no outcome"}
    local row = {name = c.name, expect = c.expect, status = "pending"}
    rows[i], by_name[c.name] = row, row
    local r = o.result
    if r then report.take_result(row, r, {cfg = cfg}) end
    if o.error then
      row.status, row.reason = "error", "generation failed: " .. util.redact(tostring(o.error))
    elseif r.ok == false then
      row.status, row.reason = "lint", "lint findings: " .. findings_text(r.findings)
    else
      local typedef = c.type and types.get(c.type) or nil
      local text, jerr, finding = job.render(r, {cfg = cfg, schema = S, typedef = typedef})
      local path = ("%s/case_%03d.py"):format(dir, i)
      if not text and finding then
        row.status, row.reason = "lint", "lint findings: " .. findings_text({finding})
      elseif not text then
        row.status, row.reason = "error", "job rendering failed: " .. tostring(jerr)
      else
        assert(util.write_file(path, text))
        spark_cases[#spark_cases + 1] = {name = c.name, job = path, reference_sql = c.reference_sql,
                                         expected_rows = c.expected_rows, columns = c.columns,
                                         ordered = c.ordered or false, match = c.match, map = c.map}
      end
    end
  end

  if #spark_cases > 0 then
    local ok, err = server:send({op = "run", cases = spark_cases})
    local done, current = 0, nil
    while ok do
      local ev
      ev, err = server:next(900)
      if not ev then break end
      if ev.event == "start" then
        current = ev.name
        progress{phase = "spark", done = done, total = #spark_cases, case = current, elapsed = sys.monotonic() - started}
      elseif ev.event == "result" then
        done = done + 1
        local row = by_name[ev.name]
        if row then judge(row, ev) end
      elseif ev.event == "end" then
        err = nil
        break
      elseif ev.event == "error" then
        err = "the Spark session failed: " .. tostring(ev.message)
        break
      end
    end
    for _, row in ipairs(rows) do
      if row.status == "pending" then
        row.status, row.reason = "runtime", "the Spark session ended before this case: " .. tostring(err)
      end
    end
    local problem = M.database_problem(rows, suite, #spark_cases)
    if problem then util.remove_tree(dir) return nil, problem end
  end
  local finished = sys.monotonic()
  util.remove_tree(dir)
  return report.build(suite, rows, {seconds = finished - started, generate_seconds = generated - started,
                                    spark_seconds = finished - generated})
end

return M

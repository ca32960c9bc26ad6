-- plancheck.lua — the plan check: after lint passes, the candidate is analysed on Spark
-- without reading any data. The job is rendered as usual, read_table returns EMPTY
-- DataFrames with the exact Spark types of the snapshot's columns (py/plancheck.py),
-- transform() runs and result_df's schema is resolved in the long-lived local session
-- (sparkserver.lua). Spark's analysis errors come back as findings, which the generator
-- treats like lint findings (the repair loop sees them).
--
--   plancheck.mode(cfg, purpose)      → true | false, why | nil, message (forced on, no Spark)
--   plancheck.check(cfg, result, S, typedef) → {ok, findings, warnings, columns, seconds}
--                                          | nil, message (the session could not run)
-- cfg.plan_check: "auto" (default), "on", "off". "auto" is on where Spark runs anyway
-- (eval, --candidates) and off for a plain generate or batch, where a cold JVM would add
-- seconds to every command; "on" (--plan-check) forces it and fails without Spark.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

M.MODES = {"auto", "on", "off"}

function M.mode(cfg, purpose)
  local v = cfg.plan_check
  if v == nil or v == false then v = "auto" end
  if v == true then v = "on" end
  local known = false
  for _, m in ipairs(M.MODES) do if v == m then known = true end end
  if not known then
    return nil, ("plan_check must be auto, on or off, got '%s'%s"):format(tostring(v), util.suggest(tostring(v), M.MODES))
  end
  if v == "off" then return false, "off" end
  -- Decided before looking for Spark: a plain generate neither needs nor loads it.
  if v == "auto" and purpose ~= "eval" and purpose ~= "candidates" then
    return false, "off for generate and batch (plan_check = \"auto\"); --plan-check turns it on"
  end
  local ok, why = require("sparkgen.sparkserver").available(cfg)
  if v == "on" then
    if not ok then return nil, "the plan check (--plan-check) needs Spark: " .. tostring(why) end
    return true
  end
  if not ok then return false, "no Spark installed (" .. tostring(why) .. ")" end
  return true
end

-- The columns of every table the body may read, under each name it may use.
local function tables_for(S, names)
  local out = {}
  for _, name in ipairs(names or {}) do
    local t = S and S.table and S:table(name)
    if t then
      local cols = {}
      for i, c in ipairs(t.columns or {}) do
        cols[i] = {name = c.name, type = c.type, nullable = c.nullable ~= false}
      end
      cols = util.array(cols)
      out[name] = cols
      out[(t.schema or "public") .. "." .. t.name] = cols
      out[t.name] = out[t.name] or cols
    end
  end
  return out
end

-- Job line of `def transform(...)`, minus the blank lines indent_body drops from the
-- top of the body: body line = job line - offset.
local function body_offset(text, code)
  local before = text:sub(1, (text:find("\ndef transform%(read_table, params%):\n")) or 0)
  local _, def_line = before:gsub("\n", "")
  def_line = def_line + 1
  local leading = 0
  for line in ((code or "") .. "\n"):gmatch("(.-)\r?\n") do
    if line:match("^%s*$") then leading = leading + 1 else break end
  end
  return def_line - leading
end

local workdir
local function job_path()
  if not workdir then
    local dir, err = util.tempdir("sparkgen-plan")
    if not dir then return nil, err end
    workdir = dir
  end
  M.count = (M.count or 0) + 1
  return ("%s/plan_%d.py"):format(workdir, M.count)
end

--- Check one result-like table {code=, request=, tables_used=}. S is the schema.
function M.check(cfg, result, S, typedef)
  local started = sys.monotonic()
  local r = {code = result.code, request = result.request, tables_used = result.tables_used,
             validation_checks = {}, provider = result.provider, description = result.description}
  local text, err, finding = require("sparkgen.job").render(r, {cfg = cfg, schema = S, typedef = typedef})
  if not text then
    if finding then
      return {ok = false, findings = {finding}, warnings = {}, columns = {}, seconds = 0}
    end
    return nil, err
  end
  local path, perr = job_path()
  if not path then return nil, perr end
  assert(util.write_file(path, text))
  local sparkserver = require "sparkgen.sparkserver"
  local server, serr = sparkserver.get(cfg, {})
  if not server then os.remove(path) return nil, serr end
  local ok, werr = server:send({op = "plan", job = path, tables = tables_for(S, result.tables_used),
                                body_offset = body_offset(text, result.code)})
  local ev
  if ok then ev, werr = server:next(600) end
  os.remove(path)
  if not ev then return nil, werr end
  if ev.event ~= "plan" then return nil, "the plan check failed: " .. tostring(ev.message) end
  local findings = {}
  for _, f in ipairs(type(ev.findings) == "table" and ev.findings or {}) do
    findings[#findings + 1] = {id = f.id, severity = "error", line = f.line ~= util.json_null and f.line or nil,
                               message = f.message, error_class = f.error_class ~= util.json_null and f.error_class or nil,
                               suggestions = util.array({})}
  end
  return {ok = #findings == 0, findings = findings, warnings = ev.warnings or {},
          columns = ev.columns or {}, seconds = sys.monotonic() - started}
end

function M.cleanup()
  if workdir then util.remove_tree(workdir) workdir = nil end
end

return M

-- eval_report.lua — what an eval run reports, per case and in total, and the
-- side-by-side of two runs (`sparkgen eval --compare A.json B.json`).
--
--   report.take_result(row, result)   copy a generation result's numbers into a case row
--   report.build(suite, rows, times)  → {format, suite, cases, summary}
--   report.format(report)             → text: one line per case, then the totals
--   report.compare(a, b)              → {changed = {...}, only_a, only_b, regressions, a, b}
--   report.format_compare(cmp)        → text
-- A case row: {name, expect = "pass"|"wrong", status = "pass"|"wrong"|"checks"|"lint"|
-- "runtime"|"error", as_expected, reason, attempts, repairs, plan_rejections,
-- candidates, agreeing, tokens_in, tokens_out, cost_usd, cached, provider, rows,
-- expected_rows, seconds}.
local util = require "sparkgen.util"

local M = {}

M.FORMAT = "sparkgen.eval/1"

--- opts.cfg: the configuration whose `prices` complete llm/prices.lua's table.
function M.take_result(row, r, opts)
  local u = r.usage or {}
  row.provider, row.cached, row.attempts = r.provider, r.cached, r.attempts
  row.repairs = (r.provider ~= "template" and r.attempts) and math.max(0, r.attempts - 1) or 0
  row.plan_rejections = r.plan_check and r.plan_check.rejections or 0
  row.candidates = r.candidates and r.candidates.total or nil
  row.agreeing = r.candidates and r.candidates.agreeing or nil
  row.tokens_in = (u.input_tokens or 0) + (u.cache_creation_input_tokens or 0) + (u.cache_read_input_tokens or 0)
  row.tokens_out = u.output_tokens or 0
  -- Priced by llm/prices.lua; an unknown price is unknown (null), never a guess.
  row.cost_usd = require("sparkgen.llm").cost(r.model, u, {cfg = opts and opts.cfg}) or util.json_null
end

local function as_expected(row)
  if row.expect == "wrong" then return row.status == "wrong" end
  return row.status == "pass"
end

function M.build(suite, rows, times)
  local s = {cases = #rows, passed = 0, as_expected = 0, known_wrong = 0, known_wrong_caught = 0,
             known_wrong_passed = util.array({}), attempts = 0, repairs = 0, plan_rejections = 0,
             tokens_in = 0, tokens_out = 0, cache_hits = 0, cost_usd = 0,
             seconds = times.seconds, generate_seconds = times.generate_seconds, spark_seconds = times.spark_seconds}
  for _, row in ipairs(rows) do
    row.as_expected = as_expected(row)
    if row.status == "pass" then s.passed = s.passed + 1 end
    if row.as_expected then s.as_expected = s.as_expected + 1 end
    if row.expect == "wrong" then
      s.known_wrong = s.known_wrong + 1
      if row.as_expected then s.known_wrong_caught = s.known_wrong_caught + 1 end
      if row.status == "pass" then s.known_wrong_passed[#s.known_wrong_passed + 1] = row.name end
    end
    s.attempts = s.attempts + (row.attempts or 0)
    s.repairs = s.repairs + (row.repairs or 0)
    s.plan_rejections = s.plan_rejections + (row.plan_rejections or 0)
    if row.cached then s.cache_hits = s.cache_hits + 1 end
    s.tokens_in = s.tokens_in + (row.tokens_in or 0)
    s.tokens_out = s.tokens_out + (row.tokens_out or 0)
    if row.cost_usd == util.json_null or s.cost_usd == util.json_null then
      s.cost_usd = util.json_null -- one unknown price makes the total unknown, not wrong
    else
      s.cost_usd = s.cost_usd + (row.cost_usd or 0)
    end
  end
  s.pass_rate = s.cases > 0 and s.passed / s.cases or 0
  s.expected_rate = s.cases > 0 and s.as_expected / s.cases or 0
  return {format = M.FORMAT, suite = suite.name or suite.path, cases = rows, summary = s}
end

local function money(usd)
  return require("sparkgen.llm").prices.format(usd ~= util.json_null and usd or nil)
end

local function detail(row)
  local text = row.reason
  if row.status == "pass" then
    local n = math.tointeger(row.rows)
    text = ("%s row%s%s"):format(n and tostring(n) or "?", n == 1 and "" or "s",
      row.seconds and (" in %.1f s"):format(row.seconds) or "")
  end
  local extra = {}
  if (row.repairs or 0) > 0 then extra[#extra + 1] = ("%d repair%s"):format(row.repairs, row.repairs == 1 and "" or "s") end
  if (row.plan_rejections or 0) > 0 then extra[#extra + 1] = ("%d rejected by the plan check"):format(row.plan_rejections) end
  if row.candidates then extra[#extra + 1] = ("%s/%s candidates agree"):format(row.agreeing or 0, row.candidates) end
  if #extra > 0 then text = tostring(text) .. " (" .. table.concat(extra, ", ") .. ")" end
  if row.expect == "wrong" then
    text = (row.as_expected and "known wrong, reported wrong: " or "known wrong, but ") .. tostring(text)
  end
  return text
end

function M.format(report)
  local width = 4
  for _, row in ipairs(report.cases) do width = math.max(width, #row.name) end
  local line = "%-" .. width .. "s  %-7s  %-8s  %s"
  local out = {line:format("CASE", "STATUS", "EXPECTED", "DETAIL")}
  for _, row in ipairs(report.cases) do
    out[#out + 1] = line:format(row.name, row.status, row.as_expected and "yes" or "NO", detail(row))
  end
  local s = report.summary
  out[#out + 1] = ""
  out[#out + 1] = ("%d/%d as expected · %d/%d passed (%.1f%%) · attempts %d · repairs %d · plan-check rejections %d"
    .. " · tokens %d in / %d out · cache hits %d · cost %s · %.1f s (generate %.1f s, Spark %.1f s)"):format(
    s.as_expected, s.cases, s.passed, s.cases, 100 * s.pass_rate, s.attempts, s.repairs, s.plan_rejections,
    s.tokens_in, s.tokens_out, s.cache_hits, money(s.cost_usd), s.seconds, s.generate_seconds, s.spark_seconds)
  if s.known_wrong > 0 then
    out[#out + 1] = ("known-wrong answers reported wrong: %d/%d%s"):format(s.known_wrong_caught, s.known_wrong,
      #s.known_wrong_passed > 0 and (" — PASSED: " .. table.concat(s.known_wrong_passed, ", ")) or "")
  end
  return table.concat(out, "\n") .. "\n"
end

--- Two reports (decoded JSON) side by side: the cases whose status or verdict changed.
function M.compare(a, b)
  local index_b, out = {}, {changed = {}, only_a = {}, only_b = {}, regressions = 0, improvements = 0, a = a, b = b}
  for _, row in ipairs(b.cases or {}) do index_b[row.name] = row end
  local seen = {}
  for _, ra in ipairs(a.cases or {}) do
    seen[ra.name] = true
    local rb = index_b[ra.name]
    if not rb then
      out.only_a[#out.only_a + 1] = ra.name
    elseif ra.status ~= rb.status or ra.as_expected ~= rb.as_expected then
      local change = {name = ra.name, a = ra.status, b = rb.status, a_expected = ra.as_expected,
                      b_expected = rb.as_expected, reason = rb.reason}
      if ra.as_expected and not rb.as_expected then change.kind = "regression"; out.regressions = out.regressions + 1
      elseif rb.as_expected and not ra.as_expected then change.kind = "improvement"; out.improvements = out.improvements + 1
      else change.kind = "changed" end
      out.changed[#out.changed + 1] = change
    end
  end
  for _, rb in ipairs(b.cases or {}) do
    if not seen[rb.name] then out.only_b[#out.only_b + 1] = rb.name end
  end
  return out
end

function M.format_compare(cmp, name_a, name_b)
  local out = {}
  local width = 4
  for _, c in ipairs(cmp.changed) do width = math.max(width, #c.name) end
  if #cmp.changed == 0 then
    out[#out + 1] = "no case changed"
  else
    local line = "%-" .. width .. "s  %-11s  %-7s  %-7s  %s"
    out[#out + 1] = line:format("CASE", "CHANGE", "A", "B", "B's DETAIL")
    for _, c in ipairs(cmp.changed) do
      out[#out + 1] = line:format(c.name, c.kind, c.a, c.b, c.b == "pass" and "" or tostring(c.reason or ""))
    end
  end
  if #cmp.only_a > 0 then out[#out + 1] = "only in " .. name_a .. ": " .. table.concat(cmp.only_a, ", ") end
  if #cmp.only_b > 0 then out[#out + 1] = "only in " .. name_b .. ": " .. table.concat(cmp.only_b, ", ") end
  local sa, sb = cmp.a.summary or {}, cmp.b.summary or {}
  local function num(v) return tonumber(v) or 0 end
  out[#out + 1] = ""
  local rows = {
    {"as expected", ("%d/%d"):format(num(sa.as_expected), num(sa.cases)), ("%d/%d"):format(num(sb.as_expected), num(sb.cases))},
    {"passed", ("%d"):format(num(sa.passed)), ("%d"):format(num(sb.passed))},
    {"repairs", ("%d"):format(num(sa.repairs)), ("%d"):format(num(sb.repairs))},
    {"plan-check rejections", ("%d"):format(num(sa.plan_rejections)), ("%d"):format(num(sb.plan_rejections))},
    {"tokens in/out", ("%d/%d"):format(num(sa.tokens_in), num(sa.tokens_out)), ("%d/%d"):format(num(sb.tokens_in), num(sb.tokens_out))},
    {"cost", money(sa.cost_usd), money(sb.cost_usd)},
    {"time", ("%.1f s"):format(num(sa.seconds)), ("%.1f s"):format(num(sb.seconds))},
  }
  out[#out + 1] = ("%-22s  %-14s  %s"):format("", name_a, name_b)
  for _, r in ipairs(rows) do out[#out + 1] = ("%-22s  %-14s  %s"):format(r[1], r[2], r[3]) end
  out[#out + 1] = ("%d regression%s, %d improvement%s"):format(cmp.regressions, cmp.regressions == 1 and "" or "s",
    cmp.improvements, cmp.improvements == 1 and "" or "s")
  return table.concat(out, "\n") .. "\n"
end

return M

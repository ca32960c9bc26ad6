-- commands/log.lua — `sparkgen log`: the history of generations (history.lua).
--   sparkgen log [list] [--since 7d] [--type T] [--limit N] [--json]   newest first
--   sparkgen log show ID [--json]        the full result, the prompt and the job
--   sparkgen log diff ID1 ID2            what changed: request, code (unified diff), checks
--   sparkgen log stats [--since 30d] [--json]   tokens and cost by day and model
local util = require "sparkgen.util"
local history = require "sparkgen.history"

local M = {}

M.summary = "Show the history of generations: list, show ID, diff ID1 ID2, stats."

function M.setup(cmd, cli)
  cmd:argument("action", "list (default), show, diff or stats."):args("?")
     :choices({"list", "show", "diff", "stats"})
  cmd:argument("ids", "Generation ids (show: one, diff: two)."):args("*")
  cmd:option("--since", "Only generations this recent: 30m, 12h, 7d, 2w, or a date YYYY-MM-DD.")
     :argname("<when>")
  cmd:option("--type", "Only generations of this transformation type."):argname("<type>")
  cmd:option("-n --limit", "How many to list (default 20; 0 for all)."):argname("<n>")
  cli.add_output_options(cmd)
end

local UNITS = {m = 60, h = 3600, d = 86400, w = 7 * 86400}

-- Seconds since the epoch of midnight UTC on a proleptic Gregorian date.
local function utc_midnight(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return (era * 146097 + doe - 719468) * 86400
end

--- The epoch a --since value means (now = current epoch), or nil, message.
function M.parse_since(s, now)
  local n, unit = s:match("^(%d+)([mhdw])$")
  if n then return now - tonumber(n) * UNITS[unit] end
  local y, mo, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if y then
    local t = utc_midnight(tonumber(y), tonumber(mo), tonumber(d))
    if os.date("!%Y-%m-%d", t) == s then return t end
  end
  return nil, ("--since '%s': expected a duration like 30m, 12h, 7d, 2w or a date YYYY-MM-DD"):format(s)
end

local function id_arg(s)
  local id = s and s:match("^%d+$") and math.tointeger(tonumber(s))
  if not id then return nil, ("'%s' is not a generation id (a number from 'sparkgen log')"):format(tostring(s)) end
  return id
end

local function request_label(r)
  local what = r.type or (r.text and ('"' .. util.excerpt(r.text:gsub("%s+", " "), 40) .. '"')) or "?"
  return ("%s %s"):format(tostring(r.source or "?"), what)
end

local function cost_text(cost, unpriced, provider)
  if provider == nil then return "-" end
  if cost == nil or (unpriced and unpriced > 0) then
    if cost and cost > 0 then return ("$%.4f + price unknown"):format(cost) end
    return "price unknown"
  end
  return ("$%.4f"):format(cost)
end

local function model_label(r)
  if not r.provider then return "-" end
  if r.model then return r.provider .. " " .. r.model end
  return r.provider
end

-- Rows as JSON: flags as booleans, every column present (null when empty).
local function json_rows(rows, columns)
  local out = util.array({})
  for i, r in ipairs(rows) do
    local c = {}
    for _, k in ipairs(columns) do
      local v = r[k]
      if v == nil then v = util.json_null end
      c[k] = v
    end
    if r.ok ~= nil and c.generations == nil then c.ok = r.ok == 1 end
    if r.cached ~= nil then c.cached = r.cached == 1 end
    out[i] = c
  end
  return out
end

-- --json output, or the "nothing recorded" line; true when it wrote the whole answer.
local function json_or_empty(args, ctx, rows, columns)
  local out = ctx.stdout
  if args.json then
    out:write(util.json_encode(json_rows(rows, columns), 2), "\n")
    return true
  end
  if #rows == 0 then
    out:write(("no generations recorded%s (%s)\n"):format(args.since and (" since " .. args.since) or "",
      ctx.config.history.file))
    return true
  end
  return false
end

local function list(args, ctx, since)
  local limit = 20
  if args.limit then
    limit = math.tointeger(tonumber(args.limit))
    if not limit or limit < 0 then return nil, ("--limit '%s': expected a whole number, 0 for all"):format(args.limit), 2 end
  end
  local rows, err = history.list(ctx.config, {since = since, type = args.type, limit = limit})
  if not rows then return nil, err end
  if args.type and #rows == 0 then
    -- A type nothing was generated for: say so, and what it may have meant.
    local known, seen = {}, {}
    local reg = require("sparkgen.types").load_all{strict = false}
    for _, list in ipairs({history.types(ctx.config), reg and reg.list or {}}) do
      for _, t in ipairs(list) do
        local name = type(t) == "table" and t.name or t
        if not seen[name] then seen[name] = true; known[#known + 1] = name end
      end
    end
    if not seen[args.type] then return nil, ("unknown type '%s'%s"):format(args.type, util.suggest(args.type, known)) end
  end
  if json_or_empty(args, ctx, rows, history.LIST_COLUMNS) then return 0 end
  local out = ctx.stdout
  out:write(("%-5s %-19s  %-8s  %-4s  %-40s  %-28s  %13s  %s\n"):format(
    "ID", "WHEN (UTC)", "COMMAND", "OK", "REQUEST", "PROVIDER", "TOKENS IN/OUT", "COST"))
  for _, r in ipairs(rows) do
    local status = r.ok == 1 and "ok" or (r.error and "err" or "fail")
    out:write(("%-5d %-19s  %-8s  %-4s  %-40s  %-28s  %13s  %s%s\n"):format(r.id,
      r.created_at:sub(1, 19):gsub("T", " "), r.command or "-", status, request_label(r),
      model_label(r) .. (r.cached == 1 and " (cached)" or ""),
      ("%d/%d"):format(r.input_tokens, r.output_tokens), cost_text(r.cost_usd, nil, r.provider),
      r.job and ("  job " .. r.job) or ""))
  end
  return 0
end

local function show(args, ctx)
  if #args.ids ~= 1 then return nil, "usage: sparkgen log show ID", 2 end
  local id, ierr = id_arg(args.ids[1])
  if not id then return nil, ierr, 2 end
  local g, err = history.get(ctx.config, id)
  if not g then return nil, err end
  local out = ctx.stdout
  if args.json then
    g.ok, g.cached = g.ok == 1, g.cached == 1
    g.cost_usd = g.cost_usd == nil and util.json_null or g.cost_usd
    out:write(util.json_encode(g, 2), "\n")
    return 0
  end
  local r = g.result or {}
  out:write(("generation %d — %s, %s, %s, %.2f s\n"):format(g.id, g.created_at, g.command or "-",
    g.ok == 1 and "ok" or "failed", g.duration_s or 0))
  out:write(("request:  %s\n"):format(request_label(g)))
  if g.text and g.type == nil then out:write(("text:     %s\n"):format(g.text)) end
  if type(g.context) == "table" and next(g.context) then
    local parts = {}
    for _, k in ipairs(util.sorted_keys(g.context)) do parts[#parts + 1] = ("%s=%s"):format(k, tostring(g.context[k])) end
    out:write(("context:  %s\n"):format(table.concat(parts, " ")))
  end
  out:write(("provider: %s%s, %s attempt%s\n"):format(model_label(g), g.cached == 1 and " (cached)" or "",
    tostring(g.attempts or 0), g.attempts == 1 and "" or "s"))
  out:write(("tokens:   %d in, %d out, %d cache write, %d cache read; cost %s\n"):format(g.input_tokens,
    g.output_tokens, g.cache_creation_input_tokens, g.cache_read_input_tokens, cost_text(g.cost_usd, nil, g.provider)))
  if g.job then out:write(("job:      %s\n"):format(g.job)) end
  if g.error then out:write(("error:    %s\n"):format(g.error)) end
  local checks = r.validation_checks or {}
  if #checks > 0 then
    out:write("checks:\n")
    for _, c in ipairs(checks) do out:write("  - ", tostring(c.description or c.rule), "\n") end
  end
  local request = require "sparkgen.request"
  if r.findings and #r.findings > 0 then
    out:write("findings:\n")
    for _, f in ipairs(r.findings) do out:write("  ", request.finding_line(f, true), "\n") end
  end
  for _, w in ipairs(r.warnings or {}) do out:write("warning:  ", w, "\n") end
  if r.code then
    out:write("--- code\n", r.code, r.code:sub(-1) == "\n" and "" or "\n")
  end
  if type(g.prompt) == "table" then
    out:write(("--- prompt (sha256 %s)\n"):format(g.prompt_hash))
    for _, part in ipairs({"system", "schema_block", "user"}) do
      if g.prompt[part] then out:write(("[%s]\n"):format(part), g.prompt[part], "\n") end
    end
  end
  return 0
end

-- A unified diff of two texts through diff(1) (diffutils is part of every Debian).
local function unified(a, b, label_a, label_b)
  local dir, derr = util.tempdir("sparkgen-logdiff")
  if not dir then return nil, derr end
  util.write_file(dir .. "/a", a)
  util.write_file(dir .. "/b", b)
  local proc = require "sparkgen.proc"
  local p, perr = proc.spawn{argv = {"diff", "-u", "--label", label_a, "--label", label_b, dir .. "/a", dir .. "/b"},
                             stdin = "null", stdout = "pipe", stderr = "pipe"}
  if not p then util.remove_tree(dir) return nil, "cannot run diff: " .. perr end
  local text, errtext = p:communicate(nil, 30)
  local how, code = p:wait(5)
  p:close()
  util.remove_tree(dir)
  if how ~= "exit" or code > 1 then return nil, "diff failed: " .. tostring(errtext) end
  return text
end

local function check_set(r)
  local out, set = {}, {}
  for _, c in ipairs(r and r.validation_checks or {}) do
    local d = tostring(c.description or c.rule)
    if not set[d] then set[d] = true; out[#out + 1] = d end
  end
  return out, set
end

local function diff(args, ctx)
  if #args.ids ~= 2 then return nil, "usage: sparkgen log diff ID1 ID2", 2 end
  local gs = {}
  for i = 1, 2 do
    local id, ierr = id_arg(args.ids[i])
    if not id then return nil, ierr, 2 end
    local g, err = history.get(ctx.config, id)
    if not g then return nil, err end
    gs[i] = g
  end
  local a, b = gs[1], gs[2]
  local out = ctx.stdout
  local differs = false
  local function field(name, va, vb)
    va, vb = tostring(va), tostring(vb)
    if va ~= vb then
      differs = true
      out:write(("%s: %s → %s\n"):format(name, va, vb))
    end
  end
  field("request", request_label(a), request_label(b))
  field("context", util.json_encode(a.context or {}), util.json_encode(b.context or {}))
  field("provider", model_label(a), model_label(b))
  field("ok", a.ok == 1 and "ok" or "failed", b.ok == 1 and "ok" or "failed")
  local ca, sa = check_set(a.result)
  local cb, sb = check_set(b.result)
  local removed, added = {}, {}
  for _, d in ipairs(ca) do if not sb[d] then removed[#removed + 1] = d end end
  for _, d in ipairs(cb) do if not sa[d] then added[#added + 1] = d end end
  if #removed + #added > 0 then
    differs = true
    out:write("checks:\n")
    for _, d in ipairs(removed) do out:write("  - ", d, "\n") end
    for _, d in ipairs(added) do out:write("  + ", d, "\n") end
  end
  local code_a = a.result and a.result.code or ""
  local code_b = b.result and b.result.code or ""
  if code_a ~= code_b then
    differs = true
    local text, err = unified(code_a, code_b, ("generation %d"):format(a.id), ("generation %d"):format(b.id))
    if not text then return nil, err end
    out:write(text)
  end
  if not differs then out:write(("generations %d and %d are the same request, code and checks\n"):format(a.id, b.id)) end
  -- Like diff(1): 1 when they differ.
  return differs and 1 or 0
end

local function stats(args, ctx, since)
  local rows, err = history.stats(ctx.config, {since = since})
  if not rows then return nil, err end
  if json_or_empty(args, ctx, rows, history.STATS_COLUMNS) then return 0 end
  local out = ctx.stdout
  out:write(("%-10s  %-32s  %6s  %5s  %12s  %12s  %12s  %12s  %s\n"):format("DAY", "PROVIDER", "GENS", "OK",
    "TOKENS IN", "TOKENS OUT", "CACHE WRITE", "CACHE READ", "COST"))
  for _, r in ipairs(rows) do
    out:write(("%-10s  %-32s  %6d  %5d  %12d  %12d  %12d  %12d  %s\n"):format(r.day, model_label(r),
      r.generations, r.ok, r.input_tokens, r.output_tokens, r.cache_creation_input_tokens,
      r.cache_read_input_tokens, cost_text(r.cost_usd, r.unpriced, r.provider)))
  end
  return 0
end

function M.run(args, ctx)
  local action = args.action or "list"
  if (action == "list" or action == "stats") and #args.ids > 0 then
    return nil, ("'sparkgen log %s' takes no ids (did you mean 'sparkgen log show %s'?)"):format(action, args.ids[1]), 2
  end
  if action ~= "list" and args.type then return nil, "--type applies to 'sparkgen log list'", 2 end
  if action ~= "list" and args.limit then return nil, "--limit applies to 'sparkgen log list'", 2 end
  if (action == "show" or action == "diff") and args.since then
    return nil, ("--since applies to 'sparkgen log list' and 'stats', not '%s'"):format(action), 2
  end
  local since
  if args.since then
    local err
    since, err = M.parse_since(args.since, os.time())
    if not since then return nil, err, 2 end
  end
  if action == "list" then return list(args, ctx, since) end
  if action == "show" then return show(args, ctx) end
  if action == "diff" then return diff(args, ctx) end
  return stats(args, ctx, since)
end

return M

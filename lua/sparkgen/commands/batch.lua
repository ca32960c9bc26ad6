-- commands/batch.lua — `sparkgen batch FILE`: many requests at once, in parallel.
-- FILE is JSON lines ({"source": ..., "type": ..., "context": {...}}) or a Lua file
-- returning a list of such tables. Results come back in input order; a failed request
-- is reported on its own line without stopping the others. On a terminal a progress
-- bar shows done/failed/cached, elapsed time and tokens.
--   sparkgen batch FILE --async     submit as one Message Batch (50% price), print its id
--   sparkgen batch status ID        where its batches are
--   sparkgen batch collect ID       poll, then the same results (and jobs) as a synchronous
--                                   batch; repairs as another batch or with --repair-sync
-- The Message Batches logic lives in lua/sparkgen/llm/batches.lua.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

M.summary = "Generate many requests in parallel from a JSON-lines or Lua file."

function M.setup(cmd, cli)
  cmd:argument("file", "Requests: JSON lines (.jsonl) or a Lua file returning a list; "
    .. "or `status` / `collect` followed by a Message Batch id.")
  cmd:argument("id", "The Message Batch id, after `status` or `collect`."):args("?")
  cmd:flag("--async", "Submit the requests as one Message Batch (half price), print its id and return.")
  cmd:flag("--repair-sync", "collect: send repairs synchronously instead of as another Message Batch.")
  cmd:option("--poll", "collect: seconds between two looks at a batch still in progress (default 30)."):convert(tonumber)
  cmd:option("--wait", "collect: give up waiting after this many seconds (default: until the batch ends)."):convert(tonumber)
  cmd:option("--concurrency", "Model requests in flight at once (default http.concurrency)."):convert(tonumber)
  cmd:option("--jobs", "Write one runnable job per successful request into DIR."):argname("<dir>")
  cmd:flag("--no-progress", "Never draw the progress bar.")
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cli.add_history_option(cmd)
  cli.add_output_options(cmd)
end

-- The keys a request may have; anything else is a typo to report, never to ignore.
local REQUEST_KEYS = {"context", "source", "text", "type"}
local KNOWN = {}
for _, k in ipairs(REQUEST_KEYS) do KNOWN[k] = true end

local function check_request(r, where)
  if type(r) ~= "table" then return nil, ("%s: a request must be an object, got %s"):format(where, type(r)) end
  for _, k in ipairs(util.sorted_keys(r)) do
    if not KNOWN[k] then
      return nil, ("%s: unknown key '%s'%s (a request has %s)"):format(where, tostring(k),
        util.suggest(tostring(k), REQUEST_KEYS), table.concat(REQUEST_KEYS, ", "))
    end
  end
  if type(r.source) ~= "string" then return nil, ("%s: 'source' (a table name) is required"):format(where) end
  local kind = r.type or r.text
  if type(kind) ~= "string" then return nil, ("%s: 'type' (a type name or a free-form request) is required"):format(where) end
  if r.context ~= nil and type(r.context) ~= "table" then return nil, ("%s: 'context' must be an object"):format(where) end
  return {source = r.source, type = kind, context = r.context or {}}
end

--- Read a batch file: list of requests or nil, message (file:line for JSON lines, and
--- for the entries of a Lua list where the file writes them).
function M.read_requests(path)
  if path:match("%.lua$") then
    local sandbox = require "sparkgen.sandbox"
    local ok, list, text = sandbox.dofile(path, sandbox.env(), util.read_file)
    if not ok then return nil, list end
    if type(list) ~= "table" then return nil, ("%s:1: a batch file must return a list of requests, got %s"):format(path, type(list)) end
    local lines = require("sparkgen.registry").field_lines(text)
    local out = {}
    for i, r in ipairs(list) do
      local req, rerr = check_request(r, ("%s:%d: request %d"):format(path, lines[tostring(i)] or lines[""] or 1, i))
      if not req then return nil, rerr end
      out[i] = req
    end
    if #out == 0 then return nil, ("%s: no requests"):format(path) end
    return out
  end
  local text, err = util.read_file(path)
  if not text then return nil, ("cannot read batch file %s"):format(err) end
  local out, n = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if not line:match("^%s*$") and not line:match("^%s*#") then
      local value, jerr = util.json_decode(line)
      if value == nil then return nil, ("%s:%d: %s"):format(path, n, jerr) end
      local req, rerr = check_request(value, ("%s:%d"):format(path, n))
      if not req then return nil, rerr end
      out[#out + 1] = req
    end
  end
  if #out == 0 then return nil, ("%s: no requests"):format(path) end
  return out
end

local function human_tokens(n)
  if n >= 1e6 then return ("%.1fM"):format(n / 1e6) end
  if n >= 1e3 then return ("%.1fk"):format(n / 1e3) end
  return tostring(n)
end

--- A one-line progress bar redrawn in place on stderr.
function M.progress_line(p, elapsed, width)
  width = width or 24
  local filled = p.total > 0 and math.floor(width * p.done / p.total) or width
  return ("[%s%s] %d/%d done, %d failed, %d cached, %.1fs, tokens %s in / %s out"):format(
    ("#"):rep(filled), ("."):rep(width - filled), p.done, p.total, p.failed, p.cached, elapsed,
    human_tokens(p.tokens_in), human_tokens(p.tokens_out))
end

local function positive(v, flag)
  if v ~= nil and not (v >= 0 and v < math.huge) then return nil, ("%s must be a number of seconds >= 0"):format(flag) end
  return true
end

local function submit(args, ctx, reqs)
  local batches = require "sparkgen.llm.batches"
  local state, err = batches.submit(reqs, ctx.config, {file = args.file,
    concurrency = args.concurrency and math.tointeger(args.concurrency)})
  if not state then return nil, err end
  ctx.stdout:write(state.id, "\n")
  io.stderr:write(("sparkgen: submitted %d request%s as Message Batch %s; `sparkgen batch status %s`, then `sparkgen batch collect %s`\n")
    :format(state.batches[1].requests, state.batches[1].requests == 1 and "" or "s", state.id, state.id, state.id))
  return 0
end

local function status(args, ctx)
  local batches = require "sparkgen.llm.batches"
  local list, state = batches.status(ctx.config, args.id)
  if not list then return nil, state end
  if args.json then
    ctx.stdout:write(util.json_encode({id = args.id, batches = list, collected_at = state and state.collected_at}, 2), "\n")
    return 0
  end
  for _, b in ipairs(list) do
    local c = type(b.request_counts) == "table" and b.request_counts or {}
    ctx.stdout:write(("%s  %-11s  processing %d, succeeded %d, errored %d, expired %d, canceled %d\n"):format(
      b.id, tostring(b.processing_status), c.processing or 0, c.succeeded or 0, c.errored or 0,
      c.expired or 0, c.canceled or 0))
  end
  if state and state.collected_at then ctx.stdout:write(("collected at %s\n"):format(state.collected_at)) end
  return 0
end

local function collect(args, ctx)
  local batches = require "sparkgen.llm.batches"
  local started = sys.monotonic()
  local tty = not args.no_progress and sys.isatty(2)
  local outcomes, state = batches.collect(ctx.config, args.id, {
    poll_s = args.poll, wait_s = args.wait, repair_sync = args.repair_sync,
    concurrency = args.concurrency and math.tointeger(args.concurrency),
    on_wait = tty and function(b)
      local c = type(b.request_counts) == "table" and b.request_counts or {}
      io.stderr:write(("\rsparkgen: Message Batch %s %s, %d processing\027[K"):format(b.id, b.processing_status,
        c.processing or 0))
      io.stderr:flush()
    end or nil})
  if tty then io.stderr:write("\r\027[K") end
  if not outcomes then return nil, state end
  return M.report(state.requests, outcomes, args, ctx, sys.monotonic() - started, {batch = state.id})
end

function M.run(args, ctx)
  local generator = require "sparkgen.generator"
  local ok, perr = positive(args.poll, "--poll")
  if ok then ok, perr = positive(args.wait, "--wait") end
  if not ok then return nil, perr, 2 end
  if (args.file == "status" or args.file == "collect") and not util.file_exists(args.file) then
    if not args.id then return nil, ("usage: sparkgen batch %s ID (a Message Batch id, msgbatch_...)"):format(args.file), 2 end
    if args.file == "status" then return status(args, ctx) end
    if args.jobs then
      local mok, merr = sys.mkdir_p(args.jobs)
      if not mok then return nil, merr end
    end
    return collect(args, ctx)
  end
  if args.id then
    return nil, ("unexpected argument '%s' (only `batch status ID` and `batch collect ID` take an id)"):format(args.id), 2
  end
  local reqs, err = M.read_requests(args.file)
  if not reqs then return nil, err end
  if args.async then return submit(args, ctx, reqs) end
  if args.jobs then
    local ok, merr = sys.mkdir_p(args.jobs)
    if not ok then return nil, merr end
  end
  local started = sys.monotonic()
  local tty = not args.no_progress and sys.isatty(2)
  local function on_progress(p)
    if tty then io.stderr:write("\r", M.progress_line(p, sys.monotonic() - started), "\027[K") io.stderr:flush() end
  end
  local outcomes = generator.generate_all(reqs, ctx.config, {
    concurrency = args.concurrency and math.tointeger(args.concurrency), on_progress = on_progress})
  if tty then io.stderr:write("\n") end
  return M.report(reqs, outcomes, args, ctx, sys.monotonic() - started)
end

local USAGE_KEYS = {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}

--- Print the per-request rows and the summary of a finished batch (synchronous, or a
--- collected Message Batch: opts.batch is its id) and write the jobs. Returns the exit
--- status.
function M.report(reqs, outcomes, args, ctx, elapsed, opts)
  opts = opts or {}
  local llm = require "sparkgen.llm"
  local totals = {requests = #reqs, ok = 0, failed = 0, cached = 0, input_tokens = 0, output_tokens = 0,
                  cache_creation_input_tokens = 0, cache_read_input_tokens = 0, elapsed_s = elapsed,
                  request_ids = util.array({}), cost_usd = 0}
  local unpriced = {}
  local rows = util.array({})
  for i, o in ipairs(outcomes) do
    local row = {index = i, source = reqs[i].source, type = reqs[i].type}
    local r = o.result
    -- A failed request's billed attempts count too (o.usage): tokens spent are tokens spent.
    local usage, ids = (r and r.usage) or o.usage, (r and r.request_ids) or o.request_ids
    for _, k in ipairs(USAGE_KEYS) do totals[k] = totals[k] + ((usage and usage[k]) or 0) end
    for _, id in ipairs(ids or {}) do totals.request_ids[#totals.request_ids + 1] = id end
    if r and r.cached then totals.cached = totals.cached + 1 end
    -- Each result carries what it cost (every billed attempt, at the price it was billed).
    local usd = (r and r.cost_usd) or o.cost_usd
    if type(usd) == "number" then totals.cost_usd = totals.cost_usd + usd
    else unpriced[#unpriced + 1] = (r and r.cost_note) or o.cost_note or "price unknown" end
    if not r and usage then row.usage = usage end
    if r and r.ok then
      row.status = "ok"
      row.result = r
      if args.jobs then
        local name = ("%s/%03d-%s.py"):format(args.jobs, i, (r.request.type or "request"))
        local ok, jerr = require("sparkgen.job").write(r, name, ctx.config)
        if ok then row.job = name else row.status, row.error = "failed", jerr end
      end
    else
      row.status = "failed"
      row.error = o.error or "generated code failed its checks"
      row.result = r
    end
    if row.status == "ok" then totals.ok = totals.ok + 1 else totals.failed = totals.failed + 1 end
    rows[#rows + 1] = row
  end
  if #unpriced > 0 then
    totals.cost_usd = util.json_null
    totals.cost_note = unpriced[1]
  end
  if opts.batch then totals.message_batch = opts.batch end

  local out = ctx.stdout
  if args.json then
    out:write(util.json_encode({results = rows, summary = totals}, 2), "\n")
  else
    for _, row in ipairs(rows) do
      local r = row.result
      local detail
      if row.status == "ok" then
        detail = ("%s%s, %d attempt%s, tokens %d/%d%s"):format(r.provider, r.cached and " (cached)" or "",
          r.attempts, r.attempts == 1 and "" or "s", r.usage.input_tokens, r.usage.output_tokens,
          row.job and (", job " .. row.job) or "")
      else
        detail = row.error
        if r and r.findings then
          local f = r.findings[1]
          if f then detail = ("%s (line %s: %s: %s)"):format(detail, f.line or "?", f.id, f.message) end
        end
        local u = (r and r.usage) or row.usage
        if u and ((u.input_tokens or 0) + (u.output_tokens or 0)) > 0 then
          detail = ("%s; tokens %d/%d"):format(detail, u.input_tokens or 0, u.output_tokens or 0)
        end
      end
      out:write(("%3d  %-6s  %s %s — %s\n"):format(row.index, row.status, row.source, row.type, detail))
    end
    out:write(("%d requests: %d ok, %d failed, %d cached; tokens %d in / %d out (cache: %d written, %d read); cost %s%s; %.1fs\n"):format(
      totals.requests, totals.ok, totals.failed, totals.cached, totals.input_tokens, totals.output_tokens,
      totals.cache_creation_input_tokens, totals.cache_read_input_tokens,
      llm.prices.format(#unpriced == 0 and totals.cost_usd or nil), opts.batch and ("; Message Batch " .. opts.batch) or "", elapsed))
  end
  return totals.failed == 0 and 0 or 1
end

return M

-- commands/batch.lua — `sparkgen batch FILE`: many requests at once, in parallel.
-- FILE is JSON lines ({"source": ..., "type": ..., "context": {...}}) or a Lua file
-- returning a list of such tables. Results are written as they complete, in input order
-- (or completion order with --unordered), and jobs as they finish, so memory does not
-- grow with the batch; a failed request is reported on its own line without stopping
-- the others. On a terminal a progress bar shows done/failed/cached, elapsed time and
-- tokens.
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
  cmd:flag("--unordered", "Write each result as soon as it is done, not in input order.")
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

local USAGE_KEYS = {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}

--- The summary a batch ends with, filled by count(totals, outcome) one outcome at a
--- time. opts.batch is a collected Message Batch's id.
function M.totals(n, opts)
  return {requests = n, ok = 0, failed = 0, cached = 0, input_tokens = 0, output_tokens = 0,
          cache_creation_input_tokens = 0, cache_read_input_tokens = 0,
          request_ids = util.array({}), cost_usd = 0, _unpriced = {}, _batch = opts and opts.batch}
end

local function count(totals, o, cfg)
  local r = o.result
  -- A failed request's billed attempts count too (o.usage): tokens spent are tokens spent.
  local usage, ids = (r and r.usage) or o.usage, (r and r.request_ids) or o.request_ids
  for _, k in ipairs(USAGE_KEYS) do totals[k] = totals[k] + ((usage and usage[k]) or 0) end
  for _, id in ipairs(ids or {}) do totals.request_ids[#totals.request_ids + 1] = id end
  if r and r.cached then totals.cached = totals.cached + 1 end
  -- Each result carries what it cost (every billed attempt, at the price it was billed).
  local usd = (r and r.cost_usd) or o.cost_usd
  if type(usd) == "number" then totals.cost_usd = totals.cost_usd + usd
  else totals._unpriced[#totals._unpriced + 1] = (r and r.cost_note) or o.cost_note or "price unknown" end
end

-- The row a batch prints for request i (its job written now, with --jobs).
local function make_row(i, req, o, args, cfg)
  local row = {index = i, source = req.source, type = req.type}
  local r = o.result
  local usage = (r and r.usage) or o.usage
  if not r and usage then row.usage = usage end
  if r and r.ok then
    row.status = "ok"
    row.result = r
    if args.jobs then
      local name = ("%s/%03d-%s.py"):format(args.jobs, i, (r.request.type or "request"))
      local ok, jerr = require("sparkgen.job").write(r, name, cfg)
      if ok then row.job = name else row.status, row.error = "failed", jerr end
    end
  else
    row.status = "failed"
    row.error = o.error or "generated code failed its checks"
    row.result = r
  end
  return row
end

local function text_line(row)
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
  return ("%3d  %-6s  %s %s — %s\n"):format(row.index, row.status, row.source, row.type, detail)
end

--- A writer of a batch's rows as they come: in input order (a row waits only for the
--- rows before it, which the generator's windows keep close), or as they complete
--- (`unordered`). With `json`, the output is one document {"results": [...],
--- "summary": {...}} whose rows are written one by one. Returns {add = fn(i, row),
--- finish = fn(totals)}.
function M.writer(out, opts)
  local held, next_i, first = {}, 1, true
  local function write(row)
    if opts.json then
      out:write(first and "" or ",\n", "    ", (util.json_encode(row, 2):gsub("\n", "\n    ")))
      first = false
    else
      out:write(text_line(row))
    end
  end
  if opts.json then out:write('{\n  "results": [\n') end
  local w = {}
  function w.add(i, row)
    if opts.unordered then return write(row) end
    held[i] = row
    while held[next_i] do
      write(held[next_i])
      held[next_i] = nil
      next_i = next_i + 1
    end
  end
  function w.finish(totals)
    local unpriced, batch = totals._unpriced or {}, totals._batch
    totals._unpriced, totals._batch = nil, nil
    if #unpriced > 0 then
      totals.cost_usd = util.json_null
      totals.cost_note = unpriced[1]
    end
    if batch then totals.message_batch = batch end
    if opts.json then
      out:write(first and "" or "\n", '  ],\n  "summary": ', (util.json_encode(totals, 2):gsub("\n", "\n  ")), "\n}\n")
    else
      out:write(("%d requests: %d ok, %d failed, %d cached; tokens %d in / %d out (cache: %d written, %d read); cost %s%s; %.1fs\n"):format(
        totals.requests, totals.ok, totals.failed, totals.cached, totals.input_tokens, totals.output_tokens,
        totals.cache_creation_input_tokens, totals.cache_read_input_tokens,
        require("sparkgen.llm").prices.format(#unpriced == 0 and totals.cost_usd or nil),
        batch and ("; Message Batch " .. batch) or "", totals.elapsed_s or 0))
    end
    out:flush()
  end
  return w
end

-- One outcome into the totals and the output.
local function sink(reqs, args, ctx, opts)
  local totals = M.totals(#reqs, opts)
  local writer = M.writer(ctx.stdout, {json = args.json, unordered = args.unordered})
  local function add(i, o)
    count(totals, o, ctx.config)
    local row = make_row(i, reqs[i], o, args, ctx.config)
    if row.status == "ok" then totals.ok = totals.ok + 1 else totals.failed = totals.failed + 1 end
    writer.add(i, row)
  end
  local function finish(elapsed)
    totals.elapsed_s = elapsed
    writer.finish(totals)
    return totals.failed == 0 and 0 or 1
  end
  return add, finish
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
  -- Each result is counted, written (and its job too) as soon as it is final, then
  -- dropped: memory stays flat however long the batch is.
  local add, finish = sink(reqs, args, ctx)
  generator.generate_all(reqs, ctx.config, {
    concurrency = args.concurrency and math.tointeger(args.concurrency), on_progress = on_progress,
    on_result = add})
  if tty then io.stderr:write("\n") end
  return finish(sys.monotonic() - started)
end

--- Print the per-request rows and the summary of a finished batch (the outcomes of a
--- collected Message Batch: opts.batch is its id) and write the jobs. Returns the exit
--- status.
function M.report(reqs, outcomes, args, ctx, elapsed, opts)
  local add, finish = sink(reqs, args, ctx, opts)
  for i, o in ipairs(outcomes) do add(i, o) end
  return finish(elapsed)
end


return M

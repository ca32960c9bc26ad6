-- llm/batches.lua — the Message Batches API (50% price, answers within 24 hours) as a
-- transport for llm.complete_many, plus the state that lets a collection be interrupted
-- and resumed.
--
--   POST {base}/v1/messages/batches {"requests": [{custom_id, params}]} → batch object
--   GET  {base}/v1/messages/batches/{id}  → {processing_status, request_counts, results_url}
--   GET  results_url → JSONL {custom_id, result: {type = succeeded|errored|canceled|expired}}
--
-- Each request of a round goes out as one item whose custom_id names the request and the
-- exact body ("r<index>-<sha256 of the body, 40 hex>"), so the same request asked again —
-- by a collect that was interrupted and run again — is found in the state instead of
-- being submitted twice. The state file (`<cache dir>/batches/<first batch id>.json`,
-- written atomically after every change) holds the requests, every batch submitted, the
-- item → batch map and the results fetched so far.
--
--   transport(cfg, state, {submit_only=, poll_s=, wait_s=, on_wait=}) → fn(reqs, sts) → answers
--   new_state(requests, file) / load(cfg, id) / save(cfg, state)
--   create(cfg, items) / retrieve(cfg, id) / results(cfg, batch) → ... | nil, message
--   is_pending(err) → batch object when err is the "still in progress" signal of wait_s
local digest = require "sparkgen.digest"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

M.FORMAT = "sparkgen.batch/1"
M.MAX_ITEMS = 100000             -- the API's limits per Message Batch
M.MAX_BYTES = 200 * 1024 * 1024  -- (256 MB), with room for the envelope

local PENDING_MT = {__tostring = function(p)
  return ("Message Batch %s is still %s"):format(tostring(p.batch.id), tostring(p.batch.processing_status))
end}

--- The batch object when err is the signal that wait_s ran out before a batch ended.
function M.is_pending(err)
  return getmetatable(err) == PENDING_MT and err.batch or nil
end

local function anthropic()
  return require "sparkgen.llm.anthropic"
end

local function key_or_error()
  local key = require("sparkgen.config").api_key("anthropic")
  if not key or key == "" then
    return nil, "anthropic: ANTHROPIC_API_KEY is not set: export ANTHROPIC_API_KEY=... (Message Batches need the Anthropic API)"
  end
  return key
end

-- One call to the API: the decoded 200 body (nil when it is not JSON), nil, and the
-- answer; or nil, message. `where` is a path under the base URL or a full URL.
local function call(cfg, method, where, body)
  local key, kerr = key_or_error()
  if not key then return nil, kerr end
  local a = anthropic()
  local req = a.api_request(cfg, key, method, where:match("^https?://") and "" or where, body)
  if where:match("^https?://") then req.url = where end
  local resp = (require("sparkgen.llm").http or require("sparkgen.http")).request(req)
  local failed, _, doc = a.failure(resp)
  if failed then return nil, failed end
  return doc, nil, resp
end

local function check_id(id)
  if type(id) ~= "string" or not id:match("^[%w_-]+$") or #id > 128 then
    return nil, ("'%s' is not a Message Batch id (msgbatch_...)"):format(tostring(id))
  end
  return id
end

--- Submit items {{custom_id=, params=}}: the batch object or nil, message.
function M.create(cfg, items)
  local doc, err = call(cfg, "POST", "/v1/messages/batches", {requests = items})
  if not doc then return nil, err end
  if type(doc.id) ~= "string" then return nil, "anthropic: the Message Batch answer has no id" end
  return doc
end

function M.retrieve(cfg, id)
  local ok, err = check_id(id)
  if not ok then return nil, err end
  local doc, cerr = call(cfg, "GET", "/v1/messages/batches/" .. id)
  if not doc then return nil, cerr end
  return doc
end

--- The results of an ended batch: {[custom_id] = result} or nil, message.
function M.results(cfg, batch)
  local where = type(batch.results_url) == "string" and batch.results_url or ("/v1/messages/batches/" .. batch.id .. "/results")
  local _, err, resp = call(cfg, "GET", where)
  if not resp then return nil, err end
  local out, n = {}, 0
  for line in (resp.body or ""):gmatch("[^\n]+") do
    n = n + 1
    local item = util.json_decode(line)
    if type(item) ~= "table" or type(item.custom_id) ~= "string" or type(item.result) ~= "table" then
      return nil, ("anthropic: line %d of the results of Message Batch %s is not a result"):format(n, batch.id)
    end
    out[item.custom_id] = item.result
  end
  return out
end

--- Poll until the batch has ended: the batch object, nil and a message, or (wait_s
--- spent) raises the pending signal (see is_pending).
function M.wait(cfg, id, opts)
  opts = opts or {}
  local started = sys.monotonic()
  while true do
    local b, err = M.retrieve(cfg, id)
    if not b then return nil, err end
    if b.processing_status == "ended" then return b end
    if opts.on_wait then opts.on_wait(b) end
    if opts.wait_s and sys.monotonic() - started >= opts.wait_s then
      error(setmetatable({batch = b}, PENDING_MT), 0)
    end
    sys.sleep(opts.poll_s or 30)
  end
end

-- ---------------------------------------------------------------------------------
-- State on disk

function M.dir(cfg)
  return cfg.cache.dir .. "/batches"
end

function M.new_state(requests, file)
  return {format = M.FORMAT, id = nil, created_at = util.timestamp(), file = file, requests = requests,
          batches = util.array({}), items = {}, results = {}}
end

function M.save(cfg, state)
  local ok, err = sys.mkdir_p(M.dir(cfg))
  if not ok then return nil, err end
  return util.write_file(("%s/%s.json"):format(M.dir(cfg), state.id), util.json_encode(state) .. "\n")
end

function M.load(cfg, id)
  local ok, err = check_id(id)
  if not ok then return nil, err end
  local path = ("%s/%s.json"):format(M.dir(cfg), id)
  local text = util.read_file(path)
  if not text then
    return nil, ("no collection state for Message Batch %s in %s (batches are collected on the machine " ..
      "and cache directory that submitted them with `sparkgen batch FILE --async`)"):format(id, M.dir(cfg))
  end
  local state = util.json_decode(text)
  if type(state) ~= "table" or state.format ~= M.FORMAT or type(state.requests) ~= "table"
     or type(state.items) ~= "table" or type(state.results) ~= "table" then
    return nil, ("%s is not a sparkgen batch state file"):format(path)
  end
  return state
end

-- ---------------------------------------------------------------------------------
-- The transport

local function custom_id(index, body)
  return ("r%d-%s"):format(index, digest.sha256(body):sub(1, 40))
end

-- A result line as the answer sparkgen.http would have given for the same request.
local function as_answer(result, batch_id, cid)
  local where = ("item %s of Message Batch %s"):format(cid, tostring(batch_id))
  if type(result) ~= "table" then
    return {error = ("no result for %s"):format(where), message_batch = batch_id}
  end
  if result.type == "succeeded" and type(result.message) == "table" then
    return {status = 200, headers = {}, body = util.json_encode(result.message), attempts = 1,
            message_batch = batch_id}
  end
  if result.type == "errored" then
    local e = type(result.error) == "table" and (type(result.error.error) == "table" and result.error.error or result.error) or {}
    return {error = ("%s errored: %s: %s"):format(where, tostring(e.type or "error"),
      util.excerpt(tostring(e.message or "no message"))), message_batch = batch_id}
  end
  if result.type == "expired" then
    return {error = ("%s expired before it was processed (a batch has 24 hours); submit it again"):format(where),
            message_batch = batch_id}
  end
  if result.type == "canceled" then
    return {error = ("%s was canceled"):format(where), message_batch = batch_id}
  end
  return {error = ("%s has a result of unknown type %s"):format(where, tostring(result.type)), message_batch = batch_id}
end

--- The transport for llm.complete_many(opts.via_batch): the round's requests go out as
--- one Message Batch (those not already submitted), then the batches are polled until
--- they end and their results come back as answers. opts.submit_only: return after
--- submitting (every answer says so). The state is saved after each step.
function M.transport(cfg, state, opts)
  opts = opts or {}
  return function(reqs, sts)
    local cids, items, sizes = {}, {}, {}
    for k, r in ipairs(reqs) do
      local cid = custom_id(sts[k].i, r.body)
      cids[k] = cid
      if not state.items[cid] then
        local params = util.json_decode(r.body)
        params.stream = nil -- a batch item is never streamed
        items[#items + 1] = {custom_id = cid, params = params}
        sizes[#items] = #r.body + #cid + 32
      end
    end
    -- The API takes at most MAX_ITEMS requests and MAX_BYTES per batch: more become
    -- several batches, each recorded as soon as it exists.
    local first = 1
    while first <= #items do
      local chunk, bytes = {}, 0
      for j = first, #items do
        if #chunk > 0 and (#chunk >= M.MAX_ITEMS or bytes + sizes[j] > M.MAX_BYTES) then break end
        chunk[#chunk + 1] = items[j]
        bytes = bytes + sizes[j]
      end
      first = first + #chunk
      local b, err = M.create(cfg, chunk)
      if not b then return nil, err end
      state.id = state.id or b.id
      state.batches[#state.batches + 1] = {id = b.id, created_at = util.timestamp(), requests = #chunk}
      for _, it in ipairs(chunk) do state.items[it.custom_id] = b.id end
      local ok, serr = M.save(cfg, state)
      if not ok then return nil, ("cannot save the batch state: %s"):format(serr) end
    end
    local out = {}
    if opts.submit_only then
      for k = 1, #reqs do out[k] = {error = "submitted as Message Batch " .. state.items[cids[k]], submitted = true} end
      return out
    end
    local waited = {}
    for k = 1, #reqs do
      local bid = state.items[cids[k]]
      if state.results[cids[k]] == nil and not waited[bid] then
        waited[bid] = true
        local b, err = M.wait(cfg, bid, opts)
        if not b then return nil, err end
        local results, rerr = M.results(cfg, b)
        if not results then return nil, rerr end
        for cid, res in pairs(results) do
          if state.items[cid] == bid then state.results[cid] = res end
        end
        local ok, serr = M.save(cfg, state)
        if not ok then return nil, ("cannot save the batch state: %s"):format(serr) end
      end
    end
    for k = 1, #reqs do out[k] = as_answer(state.results[cids[k]], state.items[cids[k]], cids[k]) end
    return out
  end
end

-- ---------------------------------------------------------------------------------
-- What the batch command does: submit, status, collect

--- Submit a batch file's requests as one Message Batch: the state (state.id is the
--- batch id) or nil, message. Each request is resolved first (its context pinned, as_of
--- included) and kept in the state, so the collection builds the very same prompts.
function M.submit(requests, cfg, opts)
  opts = opts or {}
  local generator = require "sparkgen.generator"
  local resolved = {}
  for i, r in ipairs(requests) do
    local prep = generator.prepare(r, cfg)
    resolved[i] = prep and {source = prep.request.source, type = prep.request.type or prep.request.text,
                            context = prep.request.context} or r
  end
  local state = M.new_state(resolved, opts.file)
  -- A snapshot file is remembered so collect finds the same schema; a connection
  -- string is not (it may hold a password): collect reads it from --db or the config.
  state.schema = type(cfg.schema) == "string" and (sys.realpath(cfg.schema) or cfg.schema) or nil
  local send, failure = M.transport(cfg, state, {submit_only = true}), nil
  generator.generate_all(resolved, cfg, {window = #resolved, concurrency = opts.concurrency,
    via_batch = function(reqs, sts)
      local out, err = send(reqs, sts)
      failure = failure or err
      return out, err
    end})
  if failure then return nil, failure end
  if not state.id then
    return nil, "no request needs the model (templates, cached answers or bad requests only): run it without --async"
  end
  return state
end

--- The batches of a collection (or the one id) with their progress:
--- list of {id=, processing_status=, request_counts=, created_at=, ended_at=} or nil, message.
function M.status(cfg, id)
  local state = M.load(cfg, id)
  local ids = {}
  for i, b in ipairs(state and state.batches or {{id = id}}) do ids[i] = b.id end
  local out = {}
  for i, bid in ipairs(ids) do
    local b, err = M.retrieve(cfg, bid)
    if not b then return nil, err end
    out[i] = b
  end
  return out, state
end

--- Collect: poll the batches, run the answers through the same lint → repair → checks
--- pipeline as a synchronous batch (repairs as another Message Batch, or synchronously
--- with opts.repair_sync), feed the response cache. Returns outcomes (as
--- generator.generate_all), state; or nil, message[, batch still in progress].
function M.collect(cfg, id, opts)
  opts = opts or {}
  local state, err = M.load(cfg, id)
  if not state then return nil, err end
  local generator = require "sparkgen.generator"
  if state.schema and not cfg.schema and not cfg.db then
    cfg = util.copy(cfg)
    cfg.schema = state.schema
  end
  local send = M.transport(cfg, state, {poll_s = opts.poll_s, wait_s = opts.wait_s, on_wait = opts.on_wait})
  local ok, outcomes = pcall(generator.generate_all, state.requests, cfg, {
    window = #state.requests, concurrency = opts.concurrency, via_batch = send,
    batch_repairs = not opts.repair_sync, on_progress = opts.on_progress})
  if not ok then
    local b = M.is_pending(outcomes)
    if not b then error(outcomes, 0) end
    local c = type(b.request_counts) == "table" and b.request_counts or {}
    return nil, ("Message Batch %s is still %s (%s of its requests processing); the answers so far are kept: " ..
      "run `sparkgen batch collect %s` again"):format(tostring(b.id), tostring(b.processing_status),
      tostring(c.processing or "?"), state.id), b
  end
  state.collected_at = util.timestamp()
  M.save(cfg, state)
  return outcomes, state
end

return M

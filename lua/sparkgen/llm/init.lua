-- llm/init.lua — asks a model for a GeneratedCode object: picks the provider, checks
-- the response cache, sends one request or many in parallel through sparkgen.http,
-- validates the tool input against the tool's schema (retrying a malformed one once
-- with the complaint appended to the conversation), and stores good answers.
-- For the eval harness, responses can be recorded to and replayed from a directory,
-- so a suite runs offline and deterministically.
--
--   complete(cfg, request, opts)       → result | nil, message
--   complete_many(cfg, requests, opts) → { {res = result} | {err = message}, ... } (input order)
--   result = {output=, model=, usage={input_tokens=, output_tokens=,
--             cache_creation_input_tokens=, cache_read_input_tokens=}, request_ids={...},
--             cached=bool, attempts=n, provider=, stop_reason=, key=, elapsed_s=}
--   opts = {no_cache=, record_dir=, replay_dir=, concurrency=, on_done=function(i, res, err, answer),
--           more=function() -> next request or nil (a streaming batch; see complete_many),
--           via_batch=transport, via_batch_retries=bool}  (see llm/batches.lua)
--   A failed request still reports what it cost: {err=, usage=, request_ids=}.
-- Before an answer is judged it is salvaged (validation checks written as strings become
-- rules or notes); a `max_tokens` stop is asked again once with more room (models.lua);
-- a `pause_turn` stop is continued by sending the paused turn back (at most 3 times).
-- A request with `fresh = true` is not read from the cache (its answer is still written).
-- A cache hit or a replay reports the tokens it spent now (zero) in usage and the
-- tokens the original answer cost in original_usage.
local cjson = require "cjson.safe"
local config = require "sparkgen.config"
local log = require "sparkgen.log"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local models = require "sparkgen.llm.models"
local prices = require "sparkgen.llm.prices"

local M = {}

M.models, M.prices = models, prices
M.MAX_PAUSE_CONTINUATIONS = 3

M.PROVIDERS = {anthropic = "sparkgen.llm.anthropic", openai = "sparkgen.llm.openai"}

-- The transport; tests may replace it with a table offering request/request_many.
M.http = nil
local function http()
  return M.http or require "sparkgen.http"
end

--- The provider name for cfg: cfg.provider when it names a model provider, else
--- anthropic (the default). Returns name or nil, message.
function M.provider_name(cfg)
  local p = cfg.provider
  if not p or p == "template" then return "anthropic" end
  if M.PROVIDERS[p] then return p end
  return nil, ("unknown provider '%s' (use anthropic or openai)%s"):format(tostring(p),
    util.suggest(tostring(p), util.sorted_keys(M.PROVIDERS)))
end

--- The provider module for a name (or for cfg when name is nil): module, name.
function M.provider(name_or_cfg)
  local name = name_or_cfg
  if type(name_or_cfg) == "table" then
    local err
    name, err = M.provider_name(name_or_cfg)
    if not name then return nil, err end
  end
  local modname = M.PROVIDERS[name]
  if not modname then return nil, ("unknown provider '%s'"):format(tostring(name)) end
  return require(modname), name
end

local function empty_usage()
  return {input_tokens = 0, output_tokens = 0, cache_creation_input_tokens = 0, cache_read_input_tokens = 0}
end

local function add_usage(into, u)
  for k in pairs(into) do into[k] = into[k] + (math.tointeger(u and u[k]) or 0) end
end

--- cost(model, usage, {batch = bool, cfg = cfg}) → USD, or nil and "price unknown ...".
--- Usage that spent nothing (a template, a cache hit) costs 0 whatever the model; prices
--- come from llm/prices.lua and the config's `prices`.
function M.cost(model, usage, opts)
  local spent = false
  for _, k in ipairs{"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"} do
    if (tonumber(type(usage) == "table" and usage[k]) or 0) > 0 then spent = true end
  end
  if not spent then return 0 end
  return prices.cost(model, usage, opts)
end

--- The canonical form of a request (everything that changes the answer, never the
--- key) and its cache key: sha256 of its canonical JSON. Transport settings (base URL,
--- timeouts, retries, headers) do not change the answer, so a recording made against
--- one endpoint replays against any other.
---
--- The system prompt, the schema block and the tool enter it by their SHA-256: every
--- request of a batch over one schema carries the same ~10 KB of them, and encoding and
--- hashing them again for each request was a tenth of the batch's own CPU. Each text's
--- digest is worked out once per process (a bounded memo, keyed by the text itself).
local text_digests, text_digest_count = {}, 0
local TEXT_DIGESTS_MAX = 64
local function text_digest(s)
  local d = text_digests[s]
  if d then return d end
  if text_digest_count >= TEXT_DIGESTS_MAX then text_digests, text_digest_count = {}, 0 end
  d = require("sparkgen.digest").sha256(s)
  text_digests[s], text_digest_count = d, text_digest_count + 1
  return d
end
-- The tool by identity: it is frozen once built (prompt.tool), so its digest is too.
local tool_digests = setmetatable({}, {__mode = "k"})
local function tool_digest(tool)
  if type(tool) ~= "table" then return text_digest(util.json_encode(tool)) end
  local d = tool_digests[tool]
  if not d then
    d = require("sparkgen.digest").sha256(util.json_encode(tool))
    tool_digests[tool] = d
  end
  return d
end

function M.canonical(cfg, request, pname)
  local provider = assert(M.provider(pname or cfg))
  return {
    format = "sparkgen.key/2",
    provider = provider.name,
    model = provider.model(cfg),
    max_tokens = request.max_tokens,
    temperature = request.temperature,
    system_sha256 = text_digest(request.system or ""),
    messages = {{role = "user", schema_sha256 = text_digest(request.schema_block or ""), text = request.user}},
    tool_sha256 = tool_digest(request.tool),
  }
end

function M.cache_key(cfg, request, pname)
  return require("sparkgen.digest").sha256(util.json_encode(M.canonical(cfg, request, pname)))
end

--- Where the response cache lives: a subdirectory of cfg.cache.dir, so the schema
--- cache can share the root without sharing entries or bounds.
function M.cache_dir(cfg)
  return cfg.cache.dir .. "/responses"
end

local handles = {}
--- The response cache handle for cfg (opened once per directory per process), or
--- nil, message.
function M.cache(cfg)
  local dir = M.cache_dir(cfg)
  if handles[dir] then return handles[dir] end
  local ok, cache = pcall(require, "sparkgen.cache")
  if not ok or type(cache.open) ~= "function" then return nil, "the cache primitive is not available" end
  local c = cfg.cache
  local h, err = cache.open{dir = dir, max_entries = c.max_entries, max_bytes = c.max_bytes,
                            lru_entries = c.lru_entries}
  if not h then return nil, err end
  handles[dir] = h
  return h
end

-- ---------------------------------------------------------------------------------
-- Validating the tool input: the subset of JSON Schema the tool uses (type, properties,
-- required, items, enum, anyOf, minLength). additionalProperties is left to the strict
-- sampler: an unexpected key is kept here and judged by the code that reads it (a
-- rule parameter a rule does not declare is reported by checks.lua). Returns a normalised copy (arrays marked so they
-- stay arrays in JSON, JSON nulls in optional fields dropped) or nil, message.

local function is_list(v)
  if type(v) ~= "table" then return false end
  if getmetatable(v) == util.ARRAY_MT then return true end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  return n == #v
end

local function check(v, s, path)
  if s.anyOf then
    local first
    for _, alt in ipairs(s.anyOf) do
      local y, err = check(v, alt, path)
      if err == nil then return y end
      first = first or err
    end
    return nil, first or ("%s matches none of the allowed shapes"):format(path)
  end
  local t = s.type
  if t == "object" then
    if type(v) ~= "table" or (next(v) ~= nil and is_list(v)) or getmetatable(v) == util.ARRAY_MT then
      return nil, ("%s must be an object"):format(path)
    end
    for _, k in ipairs(s.required or {}) do
      if v[k] == nil or v[k] == util.json_null then return nil, ("%s.%s is missing"):format(path, k) end
    end
    local out = {}
    for k, x in pairs(v) do
      local ps = s.properties and s.properties[k]
      if x == util.json_null then
        x = nil -- an explicit null in an optional field means "not given"
      elseif ps then
        local y, err = check(x, ps, path .. "." .. tostring(k))
        if err then return nil, err end
        x = y
      end
      out[k] = x
    end
    return out
  elseif t == "array" then
    if type(v) ~= "table" or not is_list(v) then return nil, ("%s must be an array"):format(path) end
    local out = util.array({})
    for i, x in ipairs(v) do
      if s.items then
        local y, err = check(x, s.items, ("%s[%d]"):format(path, i - 1))
        if err then return nil, err end
        x = y
      end
      out[i] = x
    end
    return out
  elseif t == "string" then
    if type(v) ~= "string" then return nil, ("%s must be a string"):format(path) end
    if s.minLength and #v < s.minLength then return nil, ("%s must not be empty"):format(path) end
  elseif t == "integer" then
    if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
      return nil, ("%s must be an integer"):format(path)
    end
  elseif t == "number" then
    if type(v) ~= "number" then return nil, ("%s must be a number"):format(path) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return nil, ("%s must be true or false"):format(path) end
  end
  if s.enum then
    for _, e in ipairs(s.enum) do
      if v == e then return v end
    end
    return nil, ("%s must be one of %s, got %s"):format(path, table.concat(s.enum, ", "), util.json_encode(v))
  end
  return v
end

--- Check a tool input against a tool's input_schema: normalised copy or nil, message.
function M.validate(value, input_schema)
  return check(value, input_schema, "input")
end

local function norm_name(s)
  return (s:lower():gsub("^%s+", ""):gsub("%s+$", ""):gsub("[%s%-]+", "_"))
end

--- Salvage, don't discard: validation checks the model wrote as plain strings (as a
--- seed's `validation_checks: list[str]` invites) are kept. A string that names a known
--- rule ("non_empty", "Non-empty") becomes {rule = name}; any other text becomes a note
--- {rule = "note", description = text}: reported, never enforced.
--- Returns the input to validate (strings taken out) and the notes to add back after.
function M.salvage(output, input_schema)
  if type(output) ~= "table" or type(output.validation_checks) ~= "table" then return output, {} end
  local list = output.validation_checks
  local any = false
  for _, c in ipairs(list) do if type(c) == "string" then any = true end end
  if not any then return output, {} end
  local props = input_schema and input_schema.properties or {}
  local vc = props.validation_checks
  local rule_s = vc and vc.items and vc.items.properties and vc.items.properties.rule
  local known = {}
  for _, name in ipairs(rule_s and rule_s.enum or {}) do known[norm_name(name)] = name end
  local out, kept, notes = util.copy(output), util.array({}), {}
  for _, c in ipairs(list) do
    if type(c) == "string" then
      local name = known[norm_name(c)]
      if name then
        kept[#kept + 1] = {rule = name}
      elseif c:match("%S") then
        notes[#notes + 1] = {rule = "note", description = util.trim(c)}
      end
    else
      kept[#kept + 1] = c
    end
  end
  out.validation_checks = kept
  return out, notes
end

-- ---------------------------------------------------------------------------------

local function first_words(request)
  if request.label then return request.label end
  local s = tostring(request.user or ""):gsub("%s+", " ")
  return #s > 60 and (s:sub(1, 57) .. "...") or s
end

local function read_json(path)
  local text = util.read_file(path)
  if not text then return nil end
  local v = cjson.decode(text)
  if type(v) ~= "table" then return nil end
  return v
end

-- The stored form of a result (cache entries and recordings): what the provider said,
-- never the key or the headers.
local function stored_form(res, key, request)
  return {format = "sparkgen.llm/1", key = key, label = first_words(request), provider = res.provider,
          model = res.model, output = res.output, usage = res.original_usage or res.usage, request_ids = res.request_ids,
          stop_reason = res.stop_reason}
end

-- A result from a stored form; returns nil when the entry is unusable (ignored).
local function from_stored(doc, tool)
  if type(doc) ~= "table" or doc.output == nil then return nil end
  local output = M.validate(doc.output, tool.input_schema)
  if not output then return nil end
  local ids = util.array({})
  for i, id in ipairs(type(doc.request_ids) == "table" and doc.request_ids or {}) do ids[i] = id end
  local usage = empty_usage()
  add_usage(usage, type(doc.usage) == "table" and doc.usage or nil)
  return {output = output, model = type(doc.model) == "string" and doc.model or nil, usage = empty_usage(),
          original_usage = usage, request_ids = ids, attempts = 0, provider = doc.provider,
          stop_reason = doc.stop_reason}
end

-- The request asked again after a malformed answer: what was sent, plus the rejected
-- call and the complaint about it as two more turns.
local function retry_request(sent, tool_call, complaint)
  local out = util.copy(sent)
  local id = tool_call and tool_call.id or "toolu_sparkgen_retry"
  local turns = {}
  for i, t in ipairs(sent.turns or {}) do turns[i] = t end
  turns[#turns + 1] = {role = "assistant", tool_call = {id = id, name = sent.tool.name,
                                                       input = tool_call and tool_call.input,
                                                       arguments = tool_call and tool_call.arguments}}
  turns[#turns + 1] = {role = "tool_error", tool_call_id = id,
    content = ("The %s input was rejected: %s. Call %s again with one complete input that matches its schema.")
      :format(sent.tool.name, complaint, sent.tool.name)}
  out.turns = turns
  return out
end

-- The request that continues a paused turn: the paused assistant content sent back as
-- it came, so the model picks up where it stopped.
local function continue_request(sent, content)
  local out = util.copy(sent)
  local turns = {}
  for i, t in ipairs(sent.turns or {}) do turns[i] = t end
  turns[#turns + 1] = {role = "assistant_content", content = content}
  out.turns = turns
  return out
end

-- A one-line progress display on stderr (a terminal) for one streamed answer: what
-- has arrived so far, redrawn at most 5 times a second; called with nil to clear it.
local function stream_progress(label)
  local started, last = sys.monotonic(), 0
  return function(p)
    if p == nil then
      if last > 0 then io.stderr:write("\r\027[K") io.stderr:flush() end
      return
    end
    local now = sys.monotonic()
    if now - last < 0.2 then return end
    last = now
    io.stderr:write(("\rsparkgen: %s: receiving the answer, %d characters, %.1fs\027[K"):format(
      label, p.chars, now - started))
    io.stderr:flush()
  end
end

--- complete_many(cfg, requests, opts): every request answered, in input order, as
--- {res = result} or {err = message, usage =, request_ids =}. Requests go out in
--- parallel (opts.concurrency, else cfg.http.concurrency); opts.on_done(i, res, err)
--- is called as each one finishes. See the top of this file for opts and the result.
--- opts.more: a streaming batch (needs on_done). Whenever a slot is free, more() is
--- asked for the next request (numbered after `requests`), nil meaning "nothing now"
--- (it is asked again after the next on_done); the call returns once nothing is in
--- flight and more() has nothing. The answers of requests from more() go to on_done
--- only, so the returned list holds those of `requests` alone.
function M.complete_many(cfg, requests, opts)
  opts = opts or {}
  local provider, pname = M.provider(cfg)
  local answers = {}
  local function finish(i, res, err, usage, ids, st)
    if res and res.cost_usd == nil then res.cost_usd = 0 end -- a cache hit or a replay
    local answer = res and {res = res} or {err = err, usage = usage or empty_usage(), request_ids = ids or util.array({}),
                                           cost_usd = st and not st.cost_note and st.cost or (st and util.json_null) or 0,
                                           cost_note = st and st.cost_note}
    if i <= #requests then answers[i] = answer end
    if opts.on_done then opts.on_done(i, res, err, answer) end
  end
  -- The requests more() gives, numbered after the listed ones.
  local last_index = #requests
  local function more_request()
    local request = opts.more and opts.more()
    if request == nil then return nil end
    last_index = last_index + 1
    return last_index, request
  end
  -- Every request, listed or to come, fails with msg.
  local function fail_all(msg)
    for i = 1, #requests do finish(i, nil, msg) end
    for i in more_request do finish(i, nil, msg) end
    return answers
  end
  if provider then
    local ok, cerr = models.check_config(cfg)
    if not ok then provider, pname = nil, cerr end
  end
  if not provider then return fail_all(pname) end
  local use_cache = not opts.no_cache and cfg.cache and cfg.cache.enabled ~= false and not opts.replay_dir
  local cache
  if use_cache then
    local err
    cache, err = M.cache(cfg)
    if not cache then log.warn("llm.cache", {status = "unavailable", error = err}) end
  end
  local ttl = cfg.cache and cfg.cache.ttl_s or 0
  if opts.record_dir then
    local ok, err = sys.mkdir_p(opts.record_dir)
    if not ok then return fail_all(("cannot create the record directory: %s"):format(err)) end
  end

  local function record(request, key, res)
    if not opts.record_dir then return end
    local ok, err = util.write_file(("%s/%s.json"):format(opts.record_dir, key),
      util.json_encode(stored_form(res, key, request), 2) .. "\n")
    if not ok then log.warn("llm.record", {status = "error", error = err}) end
  end

  local started = sys.monotonic()
  -- Request i answered from a recording or the cache (nil), or its state for the model.
  local function admit(i, request)
    local key = M.cache_key(cfg, request, pname)
    local st = {i = i, key = key, request = request, usage = empty_usage(), ids = util.array({}),
                attempts = 0, retried = false, pauses = 0, cost = 0}
    if opts.replay_dir then
      local doc = read_json(("%s/%s.json"):format(opts.replay_dir, key))
      local res = doc and from_stored(doc, request.tool)
      if res then
        res.replayed, res.cached, res.key, res.provider, res.elapsed_s = true, false, key, pname, 0
        log.info("llm.replay", {key = key:sub(1, 16), request = first_words(request)})
        finish(i, res)
      else
        finish(i, nil, ("no recorded response for request '%s' (key %s) in %s%s"):format(
          first_words(request), key, opts.replay_dir, doc and " (the recording is unusable)" or ""))
      end
      return nil
    end
    local value = cache and not request.fresh and cache:get(key)
    local res = value and from_stored(cjson.decode(value), request.tool)
    if not res then return st end
    res.cached, res.key, res.provider, res.elapsed_s = true, key, pname, sys.monotonic() - started
    log.info("llm.cache", {status = "hit", key = key:sub(1, 16), request = first_words(request),
                           provider = pname, model = res.model})
    record(request, key, res)
    finish(i, res)
  end

  -- Checked once, when the first request needs the model (cache hits need no key).
  local api_key, key_missing, key_checked
  local function needs_model(st)
    if not key_checked then
      key_checked, api_key = true, config.api_key(pname, cfg)
      key_missing = pname == "anthropic" and (not api_key or api_key == "")
    end
    if not key_missing then
      st.sent = st.request
      return st
    end
    finish(st.i, nil, "anthropic: ANTHROPIC_API_KEY is not set: export ANTHROPIC_API_KEY=... " ..
      "(or use --provider openai for an OpenAI-compatible server)")
  end
  local pending = {}
  for i, request in ipairs(requests) do
    local st = admit(i, request)
    pending[#pending + 1] = st and needs_model(st)
  end
  -- The next request from more() that needs the model (answering the others on the way).
  local function pull()
    for i, request in more_request do
      local st = admit(i, request)
      st = st and needs_model(st)
      if st then return st end
    end
  end

  -- One answer for one state: a finished result, another turn (the state, returned),
  -- or an error. Every billed attempt's tokens are added up, whatever becomes of it.
  local function handle(st, resp)
    st.attempts = st.attempts + (math.tointeger(resp.attempts) or 1)
    if st.http and st.http.stream and provider.unstream and not resp.message_batch then
      if st.progress then st.progress(nil) end
      resp = provider.unstream(resp, st.http.stream)
    end
    local res, err, kind, partial = provider.parse(resp, st.sent)
    local acct = res or partial
    if acct then
      add_usage(st.usage, acct.usage)
      if acct.request_id then st.ids[#st.ids + 1] = acct.request_id end
      -- Each attempt priced as billed: a Message Batch item at the batch discount.
      local usd, why = M.cost(provider.model(cfg), acct.usage, {cfg = cfg, batch = resp.message_batch ~= nil})
      if usd then st.cost = st.cost + usd else st.cost_note = why end
      if resp.message_batch then st.message_batch = resp.message_batch end
    end
    local rid = acct and acct.request_id
    local schema = st.request.tool.input_schema
    local complaint, tool_call
    if res then
      local candidate, notes = M.salvage(res.output, schema)
      local output, verr = M.validate(candidate, schema)
      if output then
        for _, n in ipairs(notes) do output.validation_checks[#output.validation_checks + 1] = n end
        local out = {output = output, model = res.model or provider.model(cfg), usage = st.usage,
                     request_ids = st.ids, cached = false, attempts = st.attempts, provider = pname,
                     stop_reason = res.stop_reason, key = st.key, elapsed_s = sys.monotonic() - started,
                     max_tokens_raised = st.raised, pause_continuations = st.pauses > 0 and st.pauses or nil,
                     streamed = resp.streamed or nil, message_batch = st.message_batch,
                     cost_usd = not st.cost_note and st.cost or util.json_null, cost_note = st.cost_note}
        log.info("llm.response", {status = "ok", provider = pname, model = out.model, request_ids = st.ids,
                                  usage = st.usage, attempts = st.attempts, retried = st.retried,
                                  notes = #notes > 0 and #notes or nil})
        if cache then
          local ok, perr = cache:put(st.key, util.json_encode(stored_form(out, st.key, st.request)), ttl)
          if not ok and perr then log.warn("llm.cache", {status = "error", error = perr}) end
        end
        record(st.request, st.key, out)
        return finish(st.i, out)
      end
      complaint, tool_call = verr, res.tool_call
    elseif kind == "malformed" then
      complaint, tool_call = err, partial and partial.tool_call
    elseif kind == "truncated" and not st.raised then
      local model = provider.model(cfg) -- the model asked for: its limit is the one that applies
      local from = st.sent.max_tokens
      local larger = models.larger_max_tokens(cfg, model, from)
      if larger then
        log.info("llm.retry", {reason = "max_tokens", provider = pname, request_id = rid, from = from, to = larger})
        st.raised = {from = from, to = larger}
        st.sent = util.copy(st.sent)
        st.sent.max_tokens = larger
        return st
      end
      err = ("%s (max_tokens=%s is already the limit for model %s; see models in the config)")
        :format(err, tostring(from), tostring(model))
    elseif kind == "truncated" then
      err = ("%s (already raised once from max_tokens=%d)"):format(err, st.raised.from)
    elseif kind == "paused" then
      if st.pauses < M.MAX_PAUSE_CONTINUATIONS and partial and type(partial.content) == "table" then
        st.pauses = st.pauses + 1
        log.info("llm.continue", {reason = "pause_turn", provider = pname, request_id = rid, turn = st.pauses})
        st.sent = continue_request(st.sent, partial.content)
        return st
      end
      err = ("%s: the model paused its turn (pause_turn) %d time%s without finishing the answer%s")
        :format(pname, st.pauses + 1, st.pauses == 0 and "" or "s", rid and (" (request-id " .. rid .. ")") or "")
    end
    if complaint and not st.retried then
      log.info("llm.retry", {reason = complaint, provider = pname, request_id = rid})
      st.retried = true
      st.sent = retry_request(st.sent, tool_call, complaint)
      return st
    end
    if complaint then
      err = ("%s: the %s input is malformed after a retry: %s%s"):format(pname, st.request.tool.name,
        complaint, rid and (" (request-id " .. rid .. ")") or "")
    end
    log.info("llm.response", {status = "error", provider = pname, error = err, kind = kind, request_ids = st.ids,
                              usage = st.usage})
    finish(st.i, nil, err, st.usage, st.ids, st)
  end

  local concurrency = opts.concurrency or (cfg.http and cfg.http.concurrency) or 4
  local first_round = true
  -- A streaming batch goes out in one request_many: follow-up turns (a malformed input's
  -- retry, a raised max_tokens, a paused turn) and more()'s requests fill the slots.
  local streaming = opts.more ~= nil and not opts.via_batch
  while #pending > 0 or streaming do
    -- A Message Batch transport (llm/batches.lua) answers the first attempts, and the
    -- follow-up turns too unless they are to go out synchronously.
    local via = opts.via_batch and (first_round or opts.via_batch_retries ~= false) and opts.via_batch or nil
    first_round = false
    local reqs, retry = {}, {}
    for k, st in ipairs(pending) do
      reqs[k] = provider.build_http(st.sent, cfg, api_key)
      st.http = reqs[k]
      if reqs[k].stream and #pending == 1 and opts.progress ~= false and sys.isatty(2) then
        st.progress = stream_progress(first_words(st.request))
        reqs[k].stream.on_progress = st.progress
      end
    end
    if via then
      local resps, verr = via(reqs, pending)
      for k = 1, #reqs do
        local r = handle(pending[k], resps and resps[k] or
          {error = tostring(verr or "no answer from the Message Batch"):gsub("^" .. pname .. ": ", "")})
        if r then retry[#retry + 1] = r end
      end
    elseif #reqs == 1 and not streaming then
      local r = handle(pending[1], http().request(reqs[1]))
      if r then retry[#retry + 1] = r end
    else
      -- by_k: the state of each request of this call, by its index there (dropped once
      -- answered); turns: follow-ups waiting for a slot, sent before more()'s requests.
      local by_k, nk, turns, head, tail = {}, #reqs, {}, 1, 0
      for k, st in ipairs(pending) do by_k[k] = st end
      local function next_request()
        local st = turns[head]
        if st then
          turns[head], head = nil, head + 1
        else
          st = pull()
          if not st then return nil end
        end
        nk = nk + 1
        by_k[nk] = st
        st.http = provider.build_http(st.sent, cfg, api_key)
        return st.http
      end
      local function done(k, resp)
        local st = by_k[k]
        if not st then return end
        by_k[k] = nil
        local r = handle(st, resp)
        if r then
          tail = tail + 1
          turns[tail] = r
        end
      end
      local resps = http().request_many(reqs, {concurrency = concurrency, on_done = done,
                                               more = next_request})
      -- Answers the transport did not report through on_done are handled here.
      for k = 1, #reqs do
        if by_k[k] then done(k, resps and resps[k] or {error = "no response"}) end
      end
      for k = head, tail do retry[#retry + 1] = turns[k] end
    end
    table.sort(retry, function(a, b) return a.i < b.i end)
    pending = retry
    streaming = false
  end
  return answers
end

--- complete(cfg, request, opts) → result or nil, message.
function M.complete(cfg, request, opts)
  local o = M.complete_many(cfg, {request}, opts)[1]
  if o.res then return o.res end
  return nil, o.err
end

return M

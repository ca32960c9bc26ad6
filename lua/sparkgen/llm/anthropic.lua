-- llm/anthropic.lua — the Anthropic Messages API (POST {base}/v1/messages), as described
-- in the shared anthropic-api notes: one forced tool for structured output, the schema
-- block as a cacheable content block, every stop_reason and error envelope turned into
-- either a result or one clear message. Same interface as llm/openai.lua:
--   build_http(request, cfg, key) → http request table
--   parse(resp, request?)         → result | nil, message, kind[, partial]
-- The key only ever goes into the x-api-key header; nothing here logs or returns it.
local cjson = require "cjson.safe"
local common = require "sparkgen.llm.common"
local models = require "sparkgen.llm.models"
local util = require "sparkgen.util"

local M = {}

M.name = "anthropic"

-- The retry rules sparkgen.http applies to this provider's requests (the SDKs' own).
M.retry_policy = common.SDK_RETRY_POLICY

--- The model id this provider uses with cfg.
function M.model(cfg)
  return cfg.model or (cfg.anthropic and cfg.anthropic.model) or "claude-sonnet-5"
end

function M.base_url(cfg)
  local base = (cfg.anthropic and cfg.anthropic.base_url) or "https://api.anthropic.com"
  return (base:gsub("/+$", ""))
end

-- The provider-neutral follow-up turns (a malformed tool call and the complaint about
-- it) in Messages API form.
local function turn_messages(turns)
  local out = {}
  for _, t in ipairs(turns or {}) do
    if t.role == "assistant" then
      local input = t.tool_call.input
      -- The API only accepts an object as tool_use input; a non-object answer is
      -- echoed as an empty object and the complaint says what was wrong.
      if type(input) ~= "table" or getmetatable(input) == util.ARRAY_MT or (next(input) and input[1] ~= nil) then
        input = {}
      end
      out[#out + 1] = {role = "assistant", content = {
        {type = "tool_use", id = t.tool_call.id, name = t.tool_call.name, input = input},
      }}
    elseif t.role == "assistant_content" then
      -- A paused turn (pause_turn) goes back exactly as it came, so the model continues it.
      out[#out + 1] = {role = "assistant", content = t.content}
    elseif t.role == "tool_error" then
      out[#out + 1] = {role = "user", content = {
        {type = "tool_result", tool_use_id = t.tool_call_id, is_error = true, content = t.content},
      }}
    end
  end
  return out
end

--- The JSON body (a Lua table) for a provider-neutral request.
function M.body(request, cfg)
  local content = {}
  if request.schema_block and request.schema_block ~= "" then
    -- Its own block, marked: tools, system and schema form the cached prefix, so
    -- repeated requests over one schema pay for it once.
    content[#content + 1] = {type = "text", text = request.schema_block, cache_control = {type = "ephemeral"}}
  end
  content[#content + 1] = {type = "text", text = request.user}
  local messages = {{role = "user", content = content}}
  for _, m in ipairs(turn_messages(request.turns)) do messages[#messages + 1] = m end
  local tool = request.tool
  local model = M.model(cfg)
  -- Strict tool use (grammar-constrained input) only for models that accept it: the
  -- capability table in llm/models.lua, extended by the config's `models`.
  local caps = models.capabilities(cfg, model)
  return {
    model = model,
    max_tokens = request.max_tokens,
    temperature = request.temperature,
    system = {{type = "text", text = request.system}},
    messages = messages,
    tools = {{name = tool.name, description = tool.description, input_schema = tool.input_schema,
              strict = (caps and caps.strict) or nil}},
    tool_choice = {type = "tool", name = tool.name},
  }
end

--- The http request for sparkgen.http.
--- The headers every API call carries: the version, the key, the configured betas.
function M.headers(cfg, key)
  local headers = {["anthropic-version"] = (cfg.anthropic and cfg.anthropic.version) or "2023-06-01"}
  if key then headers["x-api-key"] = key end
  local beta = cfg.anthropic and cfg.anthropic.beta
  if type(beta) == "table" then beta = table.concat(beta, ",") end
  if beta and beta ~= "" then headers["anthropic-beta"] = beta end
  return headers
end

--- A request to another endpoint of the API (Message Batches, models, count_tokens):
--- method, path under the base URL, the key, and an optional JSON body.
function M.api_request(cfg, key, method, path, body)
  return common.request(cfg, method, M.base_url(cfg) .. path, M.headers(cfg, key), body, M.retry_policy)
end

function M.build_http(request, cfg, key)
  local headers = M.headers(cfg, key)
  local body = M.body(request, cfg)
  local stream = cfg.anthropic and cfg.anthropic.stream
  if stream then body.stream = true end
  local req = common.post_json(cfg, M.base_url(cfg) .. "/v1/messages", headers, body, M.retry_policy)
  if stream then
    -- Read as it arrives (llm/stream.lua). The limit is silence, not duration: a long
    -- answer that keeps sending events (pings included) is never cut off.
    local parser = require("sparkgen.llm.stream").new()
    req.stream = parser
    req.on_chunk = function(data, status, attempt) parser:feed(data, status, attempt) end
    req.idle_timeout_s = req.timeout_s or 600
  end
  return req
end

local function send(req)
  return (require("sparkgen.llm").http or require("sparkgen.http")).request(req)
end

--- The input tokens a request would be billed, from the free count_tokens endpoint
--- (same body without max_tokens, temperature and stream): n or nil, message.
function M.count_tokens(request, cfg, key)
  local body = M.body(request, cfg)
  body.max_tokens, body.temperature, body.stream = nil, nil, nil
  local resp = send(M.api_request(cfg, key, "POST", "/v1/messages/count_tokens", body))
  local failed, _, doc = M.failure(resp)
  if failed then return nil, failed end
  local n = type(doc) == "table" and math.tointeger(doc.input_tokens)
  if not n then return nil, "anthropic: the count_tokens answer has no input_tokens" end
  return n
end

--- Does the key work? One free call (GET /v1/models), then the configured model's
--- entry: {ok = bool, detail = "...", model = {max_tokens=, max_input_tokens=}|nil}.
function M.check_key(cfg, key)
  local function get(path)
    local req = M.api_request(cfg, key, "GET", path)
    req.timeout_s, req.retries = math.min(req.timeout_s or 10, 10), 0
    return send(req)
  end
  local resp = get("/v1/models")
  local failed, kind, doc = M.failure(resp)
  if failed then return {ok = false, kind = kind, detail = failed} end
  local n = type(doc) == "table" and type(doc.data) == "table" and #doc.data or 0
  local model = M.model(cfg)
  local mresp = get("/v1/models/" .. model)
  local mfailed, mkind, mdoc = M.failure(mresp)
  if mfailed then
    return {ok = true, model_ok = false, detail = ("key accepted by %s (%d models listed), but model '%s': %s")
      :format(M.base_url(cfg), n, model, mkind == "http" and mfailed:gsub("^anthropic: ", "") or mfailed)}
  end
  local limits = ""
  if type(mdoc) == "table" and (mdoc.max_tokens or mdoc.max_input_tokens) then
    local function n(v) return tostring(math.tointeger(v) or v or "?") end
    limits = (": %s output / %s input tokens"):format(n(mdoc.max_tokens), n(mdoc.max_input_tokens))
  end
  return {ok = true, model_ok = true, model = mdoc,
          detail = ("key accepted by %s (%d models listed); %s%s"):format(M.base_url(cfg), n, model, limits)}
end

-- The status the API gives each error type, for an error event that arrives inside a
-- 200 stream.
local ERROR_STATUS = {invalid_request_error = 400, authentication_error = 401, permission_error = 403,
                      not_found_error = 404, request_too_large = 413, rate_limit_error = 429,
                      api_error = 500, overloaded_error = 529}

--- The answer of a streamed request as the non-streamed call would have given it: the
--- assembled message as the body, an `error` event as the error envelope, a stream
--- that ended early as an unusable answer. Anything but a 200 stream is unchanged.
function M.unstream(resp, parser)
  if resp.error or resp.status ~= 200 or not parser then return resp end
  local out = {}
  for k, v in pairs(resp) do out[k] = v end
  out.streamed = true
  local msg, err, why = parser:result()
  if msg then
    out.body = util.json_encode(msg)
  elseif err then
    local rid = (resp.headers or {})["request-id"]
    out.status = ERROR_STATUS[err.type] or 500
    out.body = util.json_encode({type = "error", error = err, request_id = rid})
  else
    out.body = ""
    out.stream_problem = why
  end
  return out
end

local int = common.int

local function usage_of(u)
  u = type(u) == "table" and u or {}
  return {input_tokens = int(u.input_tokens), output_tokens = int(u.output_tokens),
          cache_creation_input_tokens = int(u.cache_creation_input_tokens),
          cache_read_input_tokens = int(u.cache_read_input_tokens)}
end

local function request_id(resp, doc)
  local h = resp.headers or {}
  local id = h["request-id"] or h["x-request-id"]
  if not id and type(doc) == "table" and type(doc.request_id) == "string" then id = doc.request_id end
  return id
end

local function rid_suffix(id)
  return id and (" (request-id " .. id .. ")") or ""
end

local excerpt = util.excerpt

--- Turn an http response into a result:
---   {output=, model=, usage={...}, request_id=, stop_reason=, tool_call={id=, name=, input=}}
--- or nil, message, kind — kind is one of transport, http, auth, protocol, truncated,
--- refusal, context, no_tool, paused (partial.content: the paused turn's blocks) — plus, for kinds where the request itself is known, a
--- partial result {usage=, request_id=} for accounting.
--- The failure an answer of any endpoint is, as (message, kind, doc, request id), or
--- nil plus the decoded body and request id for a 200: a transport error, a rejected
--- key, an error envelope, or a status with a body that is not one.
function M.failure(resp)
  if resp.error then
    return ("anthropic: %s%s"):format(resp.error,
      (resp.attempts and resp.attempts > 1) and (" (after %d attempts)"):format(resp.attempts) or ""), "transport"
  end
  local doc = cjson.decode(resp.body or "")
  local rid = request_id(resp, doc)
  local status = resp.status
  if status == 200 then return nil, nil, doc, rid end
  local e = type(doc) == "table" and type(doc.error) == "table" and doc.error or nil
  if status == 401 then
    return ("anthropic: the API key was rejected (%s: %s)%s; set ANTHROPIC_API_KEY to a valid key")
      :format(e and e.type or "authentication_error", e and excerpt(e.message) or "HTTP 401", rid_suffix(rid)), "auth"
  end
  if e then
    return ("anthropic: %s: %s%s"):format(tostring(e.type), excerpt(e.message), rid_suffix(rid)), "http"
  end
  return ("anthropic: HTTP %s: %s%s"):format(tostring(status), excerpt(resp.body, 120), rid_suffix(rid)), "http"
end

function M.parse(resp, request)
  local failed, fkind, doc, rid = M.failure(resp)
  if failed then return nil, failed, fkind end
  if resp.stream_problem then
    return nil, ("anthropic: %s%s"):format(resp.stream_problem, rid_suffix(rid)), "protocol"
  end
  if type(doc) ~= "table" then
    return nil, ("anthropic: the response is not valid JSON%s"):format(rid_suffix(rid)), "protocol"
  end
  local partial = {usage = usage_of(doc.usage), request_id = rid, model = doc.model}
  local stop = doc.stop_reason
  if stop == "pause_turn" then
    -- The turn is not over (a long server-side step): never an answer, even when a
    -- tool_use block is already there. llm/init.lua sends the content back to continue.
    partial.content = type(doc.content) == "table" and doc.content or {}
    return nil, ("anthropic: the model paused its turn (pause_turn)%s"):format(rid_suffix(rid)), "paused", partial
  end
  if stop == "max_tokens" then
    local n = request and request.max_tokens
    return nil, ("anthropic: answer truncated at max_tokens=%s%s; raise max_tokens in the config")
      :format(n and tostring(n) or "?", rid_suffix(rid)), "truncated", partial
  end
  local texts, tool = {}, nil
  for _, block in ipairs(type(doc.content) == "table" and doc.content or {}) do
    -- Unknown block types (thinking, server tools, ...) are skipped on purpose.
    if type(block) == "table" then
      if block.type == "text" and type(block.text) == "string" then
        texts[#texts + 1] = block.text
      elseif block.type == "tool_use" and not tool and (request == nil or block.name == request.tool.name) then
        tool = block
      end
    end
  end
  if stop == "refusal" then
    local why = #texts > 0 and excerpt(table.concat(texts, " ")) or "no reason given"
    return nil, ("anthropic: the model refused: %s%s"):format(why, rid_suffix(rid)), "refusal", partial
  end
  if stop == "model_context_window_exceeded" then
    return nil, ("anthropic: the prompt does not fit the model's context window; select fewer tables (prompt_table_budget)%s")
      :format(rid_suffix(rid)), "context", partial
  end
  if not tool then
    local said = #texts > 0 and (": " .. excerpt(table.concat(texts, " "), 120)) or ""
    return nil, ("anthropic: the answer has no emit_code tool call (stop_reason %s)%s%s")
      :format(tostring(stop), said, rid_suffix(rid)), "no_tool", partial
  end
  return {
    output = tool.input,
    model = type(doc.model) == "string" and doc.model or nil,
    usage = partial.usage,
    request_id = rid,
    stop_reason = stop,
    tool_call = {id = tool.id, name = tool.name, input = tool.input},
  }
end

return M

-- llm/openai.lua — any OpenAI-compatible chat-completions server (Ollama, llama.cpp
-- server, vLLM, ...): POST {base}/v1/chat/completions with one forced function tool.
-- Same interface as llm/anthropic.lua:
--   build_http(request, cfg, key) → http request table
--   parse(resp, request?)         → result | nil, message, kind[, partial]
-- The tool's arguments arrive as a JSON *string*; invalid JSON there is a malformed
-- answer (kind "malformed", retried once by llm/init.lua), never scraped from prose.
local cjson = require "cjson.safe"
local common = require "sparkgen.llm.common"
local util = require "sparkgen.util"

local M = {}

M.name = "openai"

-- The retry rules sparkgen.http applies to this provider's requests (the SDKs' own).
M.retry_policy = common.SDK_RETRY_POLICY

function M.model(cfg)
  return cfg.model or (cfg.openai and cfg.openai.model) or "llama3.1"
end

function M.base_url(cfg)
  local base = (cfg.openai and cfg.openai.base_url) or "http://127.0.0.1:11434"
  base = base:gsub("/+$", "")
  -- Accept a base given with the /v1 suffix, as many servers document it.
  return (base:gsub("/v1$", ""))
end

function M.body(request, cfg)
  local user = request.user
  if request.schema_block and request.schema_block ~= "" then
    -- Same order as the Anthropic request (schema first) so servers with automatic
    -- prefix caching reuse it.
    user = request.schema_block .. "\n" .. user
  end
  local messages = {{role = "system", content = request.system}, {role = "user", content = user}}
  for _, t in ipairs(request.turns or {}) do
    if t.role == "assistant" then
      local args = t.tool_call.arguments
      if type(args) ~= "string" then args = util.json_encode(t.tool_call.input or {}) end
      messages[#messages + 1] = {role = "assistant", content = "", tool_calls = {{
        id = t.tool_call.id, type = "function",
        ["function"] = {name = t.tool_call.name, arguments = args}}}}
    elseif t.role == "tool_error" then
      messages[#messages + 1] = {role = "tool", tool_call_id = t.tool_call_id, content = t.content}
    end
  end
  local tool = request.tool
  return {
    model = M.model(cfg),
    max_tokens = request.max_tokens,
    temperature = request.temperature,
    messages = messages,
    tools = {{type = "function", ["function"] = {name = tool.name, description = tool.description,
                                                 parameters = tool.input_schema}}},
    tool_choice = {type = "function", ["function"] = {name = tool.name}},
  }
end

function M.build_http(request, cfg, key)
  local headers = {}
  if key and key ~= "" then headers["authorization"] = "Bearer " .. key end
  return common.post_json(cfg, M.base_url(cfg) .. "/v1/chat/completions", headers, M.body(request, cfg), M.retry_policy)
end

local int = common.int

local function usage_of(u)
  u = type(u) == "table" and u or {}
  local details = type(u.prompt_tokens_details) == "table" and u.prompt_tokens_details or {}
  return {input_tokens = int(u.prompt_tokens), output_tokens = int(u.completion_tokens),
          cache_creation_input_tokens = 0, cache_read_input_tokens = int(details.cached_tokens)}
end

local excerpt = util.excerpt

function M.parse(resp, request)
  if resp.error then
    return nil, ("openai: %s%s"):format(resp.error,
      (resp.attempts and resp.attempts > 1) and (" (after %d attempts)"):format(resp.attempts) or ""), "transport"
  end
  local doc = cjson.decode(resp.body or "")
  local h = resp.headers or {}
  local rid = h["x-request-id"] or h["request-id"] or (type(doc) == "table" and type(doc.id) == "string" and doc.id) or nil
  local suffix = rid and (" (request-id " .. rid .. ")") or ""
  if resp.status ~= 200 then
    local e = type(doc) == "table" and doc.error or nil
    local msg = type(e) == "table" and e.message or (type(e) == "string" and e) or nil
    if resp.status == 401 then
      return nil, ("openai: the API key was rejected (%s)%s; set the variable named by openai.api_key_env (default OPENAI_API_KEY)")
        :format(msg and excerpt(msg) or "HTTP 401", suffix), "auth"
    end
    if msg then
      local etype = type(e) == "table" and (e.type or e.code) or nil
      return nil, ("openai: %s%s%s"):format(etype and (tostring(etype) .. ": ") or "", excerpt(msg), suffix), "http"
    end
    return nil, ("openai: HTTP %s: %s%s"):format(tostring(resp.status), excerpt(resp.body, 120), suffix), "http"
  end
  if type(doc) ~= "table" then
    return nil, "openai: the response is not valid JSON" .. suffix, "protocol"
  end
  local partial = {usage = usage_of(doc.usage), request_id = rid, model = doc.model}
  local choice = type(doc.choices) == "table" and doc.choices[1] or nil
  if type(choice) ~= "table" or type(choice.message) ~= "table" then
    return nil, "openai: the response has no choices" .. suffix, "protocol", partial
  end
  local finish = choice.finish_reason
  if finish == "length" then
    local n = request and request.max_tokens
    return nil, ("openai: answer truncated at max_tokens=%s%s; raise max_tokens in the config")
      :format(n and tostring(n) or "?", suffix), "truncated", partial
  end
  if finish == "content_filter" then
    return nil, "openai: the model refused: the answer was withheld by the content filter" .. suffix, "refusal", partial
  end
  local call
  for _, c in ipairs(type(choice.message.tool_calls) == "table" and choice.message.tool_calls or {}) do
    local fn = type(c) == "table" and c["function"]
    if type(fn) == "table" and (request == nil or fn.name == request.tool.name) then
      call = c
      break
    end
  end
  if not call then
    local said = type(choice.message.content) == "string" and choice.message.content ~= ""
      and (": " .. excerpt(choice.message.content, 120)) or ""
    return nil, ("openai: the answer has no emit_code tool call (finish_reason %s)%s%s")
      :format(tostring(finish), said, suffix), "no_tool", partial
  end
  local fn = call["function"]
  local tool_call = {id = call.id or "call_0", name = fn.name, arguments = fn.arguments}
  local input, err
  if type(fn.arguments) == "string" then
    input, err = cjson.decode(fn.arguments)
    if input == nil then
      partial.tool_call = tool_call
      return nil, ("openai: the emit_code arguments are not valid JSON (%s)%s"):format(tostring(err), suffix),
        "malformed", partial
    end
  else
    input = fn.arguments -- some servers send an object here instead of a string
  end
  tool_call.input = input
  return {
    output = input,
    model = type(doc.model) == "string" and doc.model or nil,
    usage = partial.usage,
    request_id = rid,
    stop_reason = finish,
    tool_call = tool_call,
  }
end

return M

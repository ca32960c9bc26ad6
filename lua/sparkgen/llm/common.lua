-- llm/common.lua — what the provider dialects share: the HTTP request for a JSON POST
-- with the configured timeouts and retries, and token counts read defensively.
local util = require "sparkgen.util"

local M = {}

--- The retry rules of the official Anthropic (and OpenAI) SDKs, as the data
--- sparkgen.http executes: connection errors and timeouts, 408, 409, 429 and >= 500
--- are retried unless `x-should-retry: false` (`true` forces a retry); the server's
--- `retry-after-ms`, then `retry-after` (seconds or an HTTP date) is honoured when
--- 0 < v <= 60 s, else min(0.5 * 2^n, 8) s minus up to 25% jitter.
M.SDK_RETRY_POLICY = {
  statuses = {408, 409, 429},
  status_min = 500,
  connection_errors = true,
  override_header = "x-should-retry",
  delay_headers = {{"retry-after-ms", "ms"}, {"retry-after", "s"}},
  max_delay_s = 60,
  backoff = {initial_s = 0.5, multiplier = 2, max_s = 8, jitter = 0.25},
}

--- The sparkgen.http request for `method` (GET, POST, ...) to `url`, with the
--- configured timeouts, retries and the provider's retry policy; `body` (a Lua table)
--- is sent as JSON when given.
function M.request(cfg, method, url, headers, body, policy)
  local h = cfg.http or {}
  if body ~= nil then headers["content-type"] = "application/json" end
  return {
    method = method,
    url = url,
    headers = headers,
    body = body ~= nil and util.json_encode(body) or nil,
    timeout_s = h.timeout_s,
    connect_timeout_s = h.connect_timeout_s,
    retries = h.retries,
    retry_policy = policy or M.SDK_RETRY_POLICY,
  }
end

--- The sparkgen.http request for POSTing `body` (a Lua table) as JSON to `url`.
function M.post_json(cfg, url, headers, body, policy)
  return M.request(cfg, "POST", url, headers, body, policy)
end

--- Check a per-model config section (cfg.models, cfg.prices): every key a model id,
--- every entry passed to check_entry(name, entry). true or nil, message.
function M.check_model_section(cfg, key, check_entry)
  local user = cfg and cfg[key]
  if user == nil or user == false then return true end
  if type(user) ~= "table" then return nil, ("config key '%s' must be a table of model ids"):format(key) end
  for name, entry in pairs(user) do
    if type(name) ~= "string" then return nil, ("config key '%s': keys must be model ids (strings)"):format(key) end
    local ok, err = check_entry(name, entry)
    if not ok then return nil, err end
  end
  return true
end

--- A token count from a server's usage object: a whole number, 0 when absent.
function M.int(v)
  if type(v) ~= "number" then return 0 end
  return math.tointeger(v) or math.floor(v)
end

return M

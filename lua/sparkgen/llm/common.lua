-- llm/common.lua — what the provider dialects share: the HTTP request for a JSON POST
-- with the configured timeouts and retries, and token counts read defensively.
local util = require "sparkgen.util"

local M = {}

--- The sparkgen.http request for POSTing `body` (a Lua table) as JSON to `url`.
function M.post_json(cfg, url, headers, body)
  local h = cfg.http or {}
  headers["content-type"] = "application/json"
  return {
    method = "POST",
    url = url,
    headers = headers,
    body = util.json_encode(body),
    timeout_s = h.timeout_s,
    connect_timeout_s = h.connect_timeout_s,
    retries = h.retries,
  }
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

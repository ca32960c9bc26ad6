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

--- A token count from a server's usage object: a whole number, 0 when absent.
function M.int(v)
  if type(v) ~= "number" then return 0 end
  return math.tointeger(v) or math.floor(v)
end

return M

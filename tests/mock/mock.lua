-- mock.lua — starts the Anthropic mock server (anthropic_mock.py) for a spec and talks
-- to its control API, so one server serves a whole test file:
--   local mock = require("mock").start{latency_ms = 0}
--   mock.script{{status = 529}, {reply = {...}}}; ...; mock.requests(); mock.stop()
--   mock.config{batch_polls = 2}   -- Message Batches stay in_progress for 2 retrievals
-- Load it with package.path including tests/mock (see tests/lua/http_spec.lua).
local http = require "sparkgen.http"
local cjson = require "cjson.safe"

local M = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/mock"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function control(self, method, path, body)
  local answer = http.request{method = method, url = self.url .. path, body = body,
                              headers = {["content-type"] = "application/json"},
                              timeout_s = 10, retries = 0}
  if answer.error or answer.status ~= 200 then
    error(("mock control %s %s failed: %s"):format(method, path,
      answer.error or (tostring(answer.status) .. " " .. answer.body)), 3)
  end
  return cjson.decode(answer.body)
end

--- Starts a server: opts {latency_ms=, api_key=, cache_min_tokens=}. Returns the
--- handle {url=, port=, pid=, script(steps), requests(), reset(), stop()}.
function M.start(opts)
  opts = opts or {}
  local args = {"--port", "0"}
  if opts.latency_ms then args[#args + 1] = "--latency-ms"; args[#args + 1] = tostring(opts.latency_ms) end
  if opts.api_key then args[#args + 1] = "--api-key"; args[#args + 1] = opts.api_key end
  if opts.cache_min_tokens then
    args[#args + 1] = "--cache-min-tokens"; args[#args + 1] = tostring(opts.cache_min_tokens)
  end
  for i, a in ipairs(args) do args[i] = shell_quote(a) end
  -- `exec` makes the shell's pid the server's pid, so stop() can kill exactly it.
  local cmd = ("echo PID $$; exec python3 %s %s"):format(
    shell_quote(here .. "/anthropic_mock.py"), table.concat(args, " "))
  local pipe = assert(io.popen(cmd, "r"))
  local pid, port
  for line in pipe:lines() do
    pid = pid or tonumber(line:match("^PID (%d+)"))
    port = port or tonumber(line:match("^PORT (%d+)"))
    if pid and port then break end
  end
  if not (pid and port) then
    pipe:close()
    error("the mock server did not start (is python3 installed?)", 2)
  end
  local self = {port = port, pid = pid, url = ("http://127.0.0.1:%d"):format(port)}
  function self.script(steps) return control(self, "POST", "/__mock/script", cjson.encode(steps)) end
  function self.requests() return control(self, "GET", "/__mock/requests") end
  function self.reset() return control(self, "POST", "/__mock/reset", "") end
  function self.config(conf) return control(self, "POST", "/__mock/config", cjson.encode(conf)) end
  function self.stop()
    if pipe then
      os.execute("kill " .. math.tointeger(pid) .. " 2>/dev/null")
      pipe:close()
      pipe = nil
    end
  end
  return self
end

return M

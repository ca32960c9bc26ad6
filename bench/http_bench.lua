-- http_bench.lua — measures sparkgen.http against the Anthropic mock server:
--   1. batch throughput: 200 requests at concurrency 16 against a 200 ms mock, compared
--      with the ideal ceil(200/16) * 0.2 s (target: at most 1.15x);
--   2. per-request client overhead against a zero-latency mock: N sequential requests on
--      one keep-alive connection, minus the same N requests made by the curl tool in one
--      invocation (same server, same connection reuse), and the client's CPU time.
-- Run by bench/http.sh (`./sparkgen run --trusted bench/http_bench.lua [runs]`); prints medians.
package.path = "tests/mock/?.lua;" .. package.path
local http = require "sparkgen.http"
local sys = require "sparkgen.sys"
local cjson = require "cjson.safe"
local mockserver = require "mock"

local RUNS = tonumber(arg and arg[1]) or tonumber(os.getenv("BENCH_RUNS")) or 5
local BATCH, CONCURRENCY, LATENCY = 200, 16, 0.2
local SEQUENTIAL = 500

local HEADERS = {["x-api-key"] = "sk-bench", ["anthropic-version"] = "2023-06-01",
                 ["content-type"] = "application/json"}
local BODY = cjson.encode{
  model = "claude-sonnet-4-5", max_tokens = 1024,
  messages = {{role = "user", content = "monthly revenue per category"}},
  tools = {{name = "emit_code", input_schema = {type = "object"}}},
  tool_choice = {type = "tool", name = "emit_code"},
}

local median = dofile("bench/lib.lua").median

local function request(url)
  return {method = "POST", url = url .. "/v1/messages", headers = HEADERS, body = BODY}
end

local function check_all_ok(answers, what)
  for i, a in ipairs(answers) do
    if a.status ~= 200 then error(("%s: request %d failed: %s"):format(what, i, a.error or a.status)) end
  end
end

-- 1. Throughput against a slow server.
local slow = mockserver.start{latency_ms = LATENCY * 1000}
local ideal = math.ceil(BATCH / CONCURRENCY) * LATENCY
local walls = {}
for run = 1, RUNS do
  local reqs = {}
  for i = 1, BATCH do reqs[i] = request(slow.url) end
  local t0 = sys.monotonic()
  local answers = http.request_many(reqs, {concurrency = CONCURRENCY})
  walls[run] = sys.monotonic() - t0
  check_all_ok(answers, "batch")
  slow.reset() -- keep the mock's request log small
end
slow.stop()

-- 2. Per-request overhead against an instant server.
local fast = mockserver.start{latency_ms = 0}
local body_file = os.tmpname()
do
  local f = assert(io.open(body_file, "wb"))
  f:write(BODY)
  f:close()
end
local curl_args = {"curl", "-s", "-H", "'x-api-key: sk-bench'",
                   "-H", "'anthropic-version: 2023-06-01'", "-H", "'content-type: application/json'",
                   "--data-binary", "@" .. body_file}
for _ = 1, SEQUENTIAL do curl_args[#curl_args + 1] = fast.url .. "/v1/messages" end
local curl_cmd = table.concat(curl_args, " ") .. " >/dev/null"

local ours, cpu, theirs = {}, {}, {}
for run = 1, RUNS do
  http.request(request(fast.url)) -- open the connection outside the timing
  local c0, t0 = os.clock(), sys.monotonic()
  for _ = 1, SEQUENTIAL do
    local a = http.request(request(fast.url))
    if a.status ~= 200 then error("sequential request failed: " .. tostring(a.error or a.status)) end
  end
  ours[run] = (sys.monotonic() - t0) / SEQUENTIAL
  cpu[run] = (os.clock() - c0) / SEQUENTIAL
  fast.reset()
  local t1 = sys.monotonic()
  local ok = os.execute(curl_cmd)
  theirs[run] = (sys.monotonic() - t1) / SEQUENTIAL
  if not ok then error("curl baseline failed") end
  fast.reset()
end
fast.stop()
os.remove(body_file)

local wall = median(walls)
local ratio = wall / ideal
local seq, seq_cpu, base = median(ours), median(cpu), median(theirs)
local over = seq - base
local function verdict(ok) return ok and "ok" or "MISSED" end
local function nproc()
  local p = io.popen("nproc 2>/dev/null")
  local n = p and p:read("l")
  if p then p:close() end
  return n or "?"
end
print(("http bench: sparkgen.http against the mock server, medians of %d runs, %s cores"):format(RUNS, nproc()))
print(("  %-52s %8.3f s"):format(("ideal: ceil(%d/%d) x %d ms"):format(BATCH, CONCURRENCY, LATENCY * 1000), ideal))
print(("  %-52s %8.3f s"):format(("request_many: %d requests, concurrency %d"):format(BATCH, CONCURRENCY), wall))
print(("  %-52s %8.3f    target <= 1.15  %s"):format("batch / ideal", ratio, verdict(ratio <= 1.15)))
print(("  %-52s %8.3f ms"):format(("curl tool, per request (%d in one process)"):format(SEQUENTIAL), base * 1000))
print(("  %-52s %8.3f ms"):format(("sparkgen.http, per request (%d http.request calls)"):format(SEQUENTIAL), seq * 1000))
print(("  %-52s %8.3f ms target < 1     %s"):format("client overhead per request vs curl", over * 1000, verdict(over < 0.001)))
print(("  %-52s %8.3f ms target < 1     %s"):format("client CPU per request (os.clock)", seq_cpu * 1000, verdict(seq_cpu < 0.001)))

-- batch_bench.lua — `sparkgen batch` as users run it, end to end, against the mock
-- model (tests/mock), every answer a distinct piece of code that is linted and checked
-- (the run fails unless every result is ok and read the table its code reads):
--   1. throughput: 200 requests at concurrency 16 and 1000 at 64, model at 200 ms,
--      `--no-cache`, the whole process timed; against the ideal ceil(N/C) x 200 ms and
--      against `curl --parallel` sending the same request bodies to the same mock,
--      interleaved run by run;
--   2. CPU per request, marginal from 200 to 1000 requests with the model at 0 ms:
--      sparkgen and every process it starts (the analysers), and sparkgen's own share;
--   3. peak memory of the batch at 200, 1000 and 3000 requests.
-- Run by bench/batch.sh (`sparkgen run --trusted bench/batch_bench.lua [runs]`); prints medians
-- and exits non-zero when a run fails or a target is missed.
package.path = "tests/mock/?.lua;" .. package.path
local cjson = require "cjson.safe"
local proc = require "sparkgen.proc"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"
local mockserver = require "mock"
local lib = dofile("bench/lib.lua")

local RUNS = tonumber(arg and arg[1]) or tonumber(os.getenv("BENCH_RUNS")) or 3
local BIN = os.getenv("SPARKGEN") or "./sparkgen"
local SHOP = "examples/shop/schema.json"
local LATENCY = 0.2
local KEY = "sk-bench-not-a-real-key"
local tmp = assert(util.tempdir("sparkgen-bench-batch"))
local failures = 0

local function fail(msg)
  io.stderr:write("batch bench: ", msg, "\n")
  failures = failures + 1
end

-- n distinct free-form requests, and n distinct answers that pass every check.
local function requests_file(n)
  local path = ("%s/requests-%d.jsonl"):format(tmp, n)
  local f = assert(io.open(path, "w"))
  for i = 1, n do f:write(cjson.encode{source = "orders", type = "revenue per customer, variant " .. i}, "\n") end
  f:close()
  return path
end

local function replies(n)
  local steps = {}
  for i = 1, n do
    steps[i] = {reply = {
      code = ('orders = read_table("orders")\nresult_df = (\n    orders.groupBy("customer_id")\n'
        .. '    .agg(F.sum("total_amount").alias("revenue_%d"), F.count("order_id").alias("orders"))\n)\n'):format(i),
      description = "Revenue per customer, variant " .. i, tables_used = {"orders"},
      estimated_complexity = "low", validation_checks = {{rule = "non_empty"}}}}
  end
  return steps
end

local function env_for(mock)
  return {PATH = os.getenv("PATH"), HOME = os.getenv("HOME"), LC_ALL = "C.UTF-8", TZ = "UTC",
          SPARKGEN_HOME = os.getenv("SPARKGEN_HOME"), XDG_CACHE_HOME = tmp .. "/cache",
          XDG_CONFIG_HOME = tmp .. "/config", XDG_DATA_HOME = tmp .. "/data", ANTHROPIC_API_KEY = KEY, ANTHROPIC_BASE_URL = mock.url}
end

-- /proc/PID/stat of a child that has exited but is not reaped yet: its own CPU seconds
-- and those of its children it reaped (the analysers).
local function zombie_cpu(pid)
  local tick = 0.01
  while true do
    local f = io.open("/proc/" .. pid .. "/stat")
    local s = f and f:read("a")
    if f then f:close() end
    local fields = {}
    for w in ((s or ""):match("%) (.*)$") or ""):gmatch("%S+") do fields[#fields + 1] = w end
    if fields[1] == "Z" or not s then
      return (tonumber(fields[12] or 0) + tonumber(fields[13] or 0)) * tick,
             (tonumber(fields[14] or 0) + tonumber(fields[15] or 0)) * tick
    end
    sys.sleep(0.002)
  end
end

-- One `sparkgen batch` of n requests: wall seconds, own CPU, children CPU, or nil.
local function run_batch(mock, n, c, opts)
  opts = opts or {}
  mock.reset()
  mock.script(replies(n))
  local out = ("%s/out-%d.json"):format(tmp, n)
  local argv = {BIN, "batch", requests_file(n), "--schema", SHOP, "--no-cache", "--concurrency", tostring(c), "--json",
                "--no-progress"}
  local cmd = {"sh", "-c", 'exec "$@" > ' .. util.shell_quote(out), "sh"}
  if opts.rss then cmd = {"/usr/bin/time", "-f", "%M", "-o", tmp .. "/rss", "sh", "-c", 'exec "$@" > ' .. util.shell_quote(out), "sh"} end
  for _, a in ipairs(argv) do cmd[#cmd + 1] = a end
  local t0 = sys.monotonic()
  local p = assert(proc.spawn{argv = cmd, env = env_for(mock), stdin = "null", stdout = "null", stderr = "pipe"})
  local own, children = zombie_cpu(p.pid)
  local wall = sys.monotonic() - t0
  local _, err = p:communicate(nil, 5)
  local status, code = p:wait(5)
  p:close()
  if status ~= "exit" or code ~= 0 then
    return fail(("batch of %d failed (%s %s): %s"):format(n, tostring(status), tostring(code), tostring(err)))
  end
  local doc = cjson.decode(util.read_file(out) or "")
  if type(doc) ~= "table" or doc.summary.ok ~= n then
    return fail(("batch of %d: %s results ok"):format(n, doc and doc.summary and doc.summary.ok or "no"))
  end
  local codes = {}
  for _, row in ipairs(doc.results) do
    local r = row.result
    if not (r and r.tables_used[1] == "orders") then return fail("a result was not analysed") end
    codes[r.code] = true
  end
  local distinct = 0
  for _ in pairs(codes) do distinct = distinct + 1 end
  if distinct ~= n then return fail(("batch of %d: only %d distinct answers"):format(n, distinct)) end
  local rss = opts.rss and tonumber(util.read_file(tmp .. "/rss"):match("(%d+)%s*$"))
  return wall, own, children, rss
end

-- The bodies sparkgen sent, as files, and a curl config sending them all.
local function curl_config(mock)
  local seen = mock.requests()
  local cfg = {}
  for i, r in ipairs(seen) do
    local body = ("%s/body-%d.json"):format(tmp, i)
    assert(util.write_file(body, cjson.encode(r.body)))
    cfg[#cfg + 1] = ('url = "%s/v1/messages"\nheader = "x-api-key: %s"\nheader = "anthropic-version: 2023-06-01"\n'
      .. 'header = "content-type: application/json"\ndata-binary = "@%s"\noutput = "/dev/null"\n'
      .. 'write-out = "%%{http_code}\\n"\n'):format(mock.url, KEY, body)
  end
  local path = tmp .. "/curl.cfg"
  assert(util.write_file(path, table.concat(cfg, "next\n")))
  return path, #seen
end

local function run_curl(mock, cfg, n, c)
  mock.reset()
  local t0 = sys.monotonic()
  local pipe = assert(io.popen(("curl -s --parallel --parallel-immediate --parallel-max %d -K %s 2>/dev/null"):format(c, util.shell_quote(cfg))))
  local codes = pipe:read("a")
  pipe:close()
  local wall = sys.monotonic() - t0
  local ok = select(2, codes:gsub("200\n", ""))
  if ok ~= n then return fail(("curl: %d of %d answers were 200"):format(ok, n)) end
  return wall
end

local median = lib.median
local function med(xs) return #xs > 0 and median(xs) or 0 / 0 end
local report = {}
local function line(fmt, ...) report[#report + 1] = fmt:format(...) end
local function verdict(ok) if not ok then failures = failures + 1 end return ok and "ok" or "MISSED" end

-- 1. Throughput at the model's pace.
local slow = mockserver.start{latency_ms = LATENCY * 1000}
for _, shape in ipairs({{200, 16}, {1000, 64}}) do
  local n, c = shape[1], shape[2]
  local ideal = math.ceil(n / c) * LATENCY
  local ours, theirs, cfg = {}, {}, nil
  for _ = 1, RUNS do
    local wall = run_batch(slow, n, c)
    if wall then ours[#ours + 1] = wall end
    if not cfg then cfg = curl_config(slow) end
    local cw = run_curl(slow, cfg, n, c)
    if cw then theirs[#theirs + 1] = cw end
  end
  local m, k = med(ours), med(theirs)
  line("  %-58s %7.2f s", ("batch %d/%d at %d ms, --no-cache (whole process)"):format(n, c, LATENCY * 1000), m)
  line("  %-58s %7.2f s", "ideal ceil(N/C) x latency", ideal)
  line("  %-58s %7.2f s", "curl --parallel, the same bodies", k)
  line("  %-58s %7.3f    target <= 1.05  %s", "  batch / ideal", m / ideal, verdict(m / ideal <= 1.05))
  line("  %-58s %7.3f    target <= 1.03  %s", "  batch / curl", m / k, verdict(m / k <= 1.03))
end
slow.stop()

-- 2. CPU per request and 3. peak memory, with the model answering at once.
local fast = mockserver.start{latency_ms = 0}
local own, total = {[200] = {}, [1000] = {}}, {[200] = {}, [1000] = {}}
for _ = 1, RUNS do
  for _, n in ipairs({200, 1000}) do
    local wall, o, ch = run_batch(fast, n, 16)
    if wall then own[n][#own[n] + 1] = o; total[n][#total[n] + 1] = o + ch end
  end
end
local function marginal(t) return (med(t[1000]) - med(t[200])) / 800 * 1000 end
local m_total, m_own = marginal(total), marginal(own)
line("  %-58s %7.3f ms target <= 2    %s", "CPU per request, all processes (marginal 200 -> 1000)", m_total, verdict(m_total <= 2))
line("  %-58s %7.3f ms target <= 0.3  %s", "  sparkgen's own share", m_own, verdict(m_own <= 0.3))
line("  %-58s %7.2f", "  own share / all processes", m_own / m_total)
local rss = {}
for _, n in ipairs({200, 1000, 3000}) do
  local xs = {}
  for _ = 1, RUNS do
    local wall, _, _, kb = run_batch(fast, n, 16, {rss = true})
    if wall then xs[#xs + 1] = kb / 1024 end
  end
  rss[n] = med(xs)
end
fast.stop()
line("  %-58s %7.1f / %.1f / %.1f MB", "peak memory at 200 / 1000 / 3000 requests", rss[200], rss[1000], rss[3000])
line("  %-58s %7.2f    target <= 50 MB at 3000  %s", "  3000 / 200", rss[3000] / rss[200], verdict(rss[3000] <= 50))

util.remove_tree(tmp)
print(("batch bench: the real `sparkgen batch`, medians of %d interleaved runs, %s cores"):format(RUNS,
  tostring(require("sparkgen.analyzer").cores())))
for _, l in ipairs(report) do print(l) end
if failures > 0 then print(("batch bench: %d failure(s) or missed target(s)"):format(failures)) end
return failures > 0 and 1 or 0

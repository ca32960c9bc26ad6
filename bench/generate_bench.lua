-- generate_bench.lua — a cache hit as the user sees it: the whole `sparkgen generate`
-- process for a free-form request whose answer is already in the response cache
-- (target: under 10 ms), next to the bare process start-up (`sparkgen --version`) and a
-- template-only generate measured in the same invocation. The mock model must receive
-- no request during the timed runs. Run by bench/generate.sh; prints medians.
package.path = "tests/mock/?.lua;" .. package.path
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"
local mockserver = require "mock"

local RUNS = tonumber(arg and arg[1]) or tonumber(os.getenv("BENCH_RUNS")) or 21
local BIN = os.getenv("SPARKGEN") or "./sparkgen"
local SHOP = "examples/shop/schema.json"

local median = dofile("bench/lib.lua").median

local function time_command(cmd)
  local t0 = sys.monotonic()
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  local dt = sys.monotonic() - t0
  if not ok then error("benchmark command failed: " .. cmd) end
  return dt
end

local mock = mockserver.start{latency_ms = 0}
local cache_dir = assert(util.tempdir("sparkgen-bench-cache"))
sys.setenv("ANTHROPIC_API_KEY", "sk-bench-not-a-real-key")
sys.setenv("ANTHROPIC_BASE_URL", mock.url)
sys.setenv("XDG_CACHE_HOME", cache_dir)
sys.setenv("SPARKGEN_PYTHON", nil)

local q = util.shell_quote
local cached = table.concat({q(BIN), "generate orders", q("monthly revenue per category for the last quarter"),
                             "--schema", q(SHOP)}, " ")
local template = table.concat({q(BIN), "generate orders revenue_by_category --schema", q(SHOP)}, " ")
local startup = q(BIN) .. " --version"

time_command(cached) -- fills the cache (one model request)
local before = #mock.requests()
local t_cached, t_template, t_start = {}, {}, {}
for i = 1, RUNS do
  t_start[i] = time_command(startup)
  t_cached[i] = time_command(cached)
  t_template[i] = time_command(template)
end
local after = #mock.requests()
mock.stop()
util.remove_tree(cache_dir)

-- lint of a typical body with a cold analyser (a Python process per call, no facts cache)
local lint = require "sparkgen.lint"
local code = assert(util.read_file("tests/lint_corpus/good/revenue_by_category.py"))
local schema = assert(require("sparkgen.schema").from_file(SHOP))
local t_lint = {}
for i = 1, RUNS do
  local t0 = sys.monotonic()
  assert(lint.check(code, {schema = schema}))
  t_lint[i] = sys.monotonic() - t0
end

local m_cached, m_template, m_start = median(t_cached), median(t_template), median(t_start)
print(("generate, cache hit (whole process):   median %7.2f ms  (target < 10 ms)"):format(m_cached * 1000))
print(("generate, template type (no model):    median %7.2f ms"):format(m_template * 1000))
print(("baseline: sparkgen --version:          median %7.2f ms"):format(m_start * 1000))
print(("cache hit / baseline: %.2fx; model requests during %d timed cache hits: %d"):format(
  m_cached / m_start, RUNS, after - before))
print(("lint of a typical body, analyser uncached (in process): median %7.2f ms  (target < 100 ms)"):format(
  median(t_lint) * 1000))
print(("runs: %d each, interleaved; a hit still judges the cached code against the schema and policy (the analyser's facts are cached by code hash)"):format(RUNS))

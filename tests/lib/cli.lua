-- tests/lib/cli.lua — run the sparkgen binary from a spec and capture what it did.
--   local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
--   local r = cli.run({"generate", "orders", "x"}, {env = {K = "v"}, stdin = "..."})
--   r.status, r.stdout, r.stderr
local M = {}

M.HOME = os.getenv("SPARKGEN_HOME") or "."
M.BIN = os.getenv("SPARKGEN") or (M.HOME .. "/sparkgen")
M.SHOP = M.HOME .. "/examples/shop/schema.json"
-- The pagila sample database lives in shared/ beside the checkout (never copied into it);
-- SPARKGEN_PAGILA points elsewhere.
M.PAGILA = os.getenv("SPARKGEN_PAGILA")
if not M.PAGILA then
  for _, dir in ipairs({M.HOME .. "/../shared/datasets/pagila", "/work/shared/datasets/pagila"}) do
    local f = io.open(dir .. "/pagila-schema.sql")
    if f then f:close() M.PAGILA = dir break end
  end
  M.PAGILA = M.PAGILA or (M.HOME .. "/../shared/datasets/pagila")
end

local function quote(s)
  s = tostring(s)
  if s:match("^[%w@%%+=:,./_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
M.quote = quote

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end
M.slurp = slurp

--- Write text to path, making its missing parent directories first.
function M.write(path, text)
  local f = io.open(path, "wb")
  if not f and path:find("/", 1, true) then
    assert(os.execute("mkdir -p " .. quote(path:match("^(.*)/[^/]*$"))))
    f = io.open(path, "wb")
  end
  f = assert(f, "cannot write " .. path)
  f:write(text)
  f:close()
end

--- Run sparkgen with argv (a list); opts.env (name → value, false to unset),
--- opts.stdin (text), opts.cwd, opts.stdout_to (a path stdout goes to instead of being
--- captured, e.g. /dev/full), opts.timeout (seconds: a hang becomes status 124
--- instead of a stuck suite). Returns {status=, stdout=, stderr=}.
function M.run(argv, opts)
  opts = opts or {}
  local parts = {}
  if opts.cwd then parts[#parts + 1] = "cd " .. quote(opts.cwd) .. " &&" end
  parts[#parts + 1] = "env"
  -- env wants every -u before the first assignment
  local sets = {}
  for k, v in pairs(opts.env or {}) do
    if v == false then parts[#parts + 1] = "-u " .. k else sets[#sets + 1] = k .. "=" .. quote(v) end
  end
  table.move(sets, 1, #sets, #parts + 1, parts)
  if opts.timeout then parts[#parts + 1] = ("timeout -k 2 %s"):format(opts.timeout) end
  parts[#parts + 1] = quote(opts.bin or M.BIN)
  for _, a in ipairs(argv) do parts[#parts + 1] = quote(a) end
  local out, err = os.tmpname(), os.tmpname()
  local input
  if opts.stdin then
    input = os.tmpname()
    M.write(input, opts.stdin)
  end
  local cmd = table.concat(parts, " ") .. " <" .. (input or "/dev/null") .. " >" ..
    (opts.stdout_to and quote(opts.stdout_to) or out) .. " 2>" .. err
  local _, _, code = os.execute(cmd)
  local r = {status = code, stdout = slurp(out), stderr = slurp(err)}
  os.remove(out); os.remove(err)
  if input then os.remove(input) end
  return r
end

--- A function(extra, opts) that runs `sparkgen WORDS... EXTRA...` through M.run.
function M.command(...)
  local words = {...}
  return function(extra, opts)
    local argv = table.move(words, 1, #words, 1, {})
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return M.run(argv, opts)
  end
end

--- `sparkgen generate orders revenue_by_category --schema SHOP` plus extra arguments:
--- the offline request most end-to-end specs start from.
M.generate = M.command("generate", "orders", "revenue_by_category", "--schema", M.SHOP)

--- Run a shell command; its stdout without trailing white space, or nil when it failed
--- (stderr discarded). For helpers like tests/lib/pg.sh that print one line.
function M.sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local out = p:read("a")
  local ok = p:close()
  return ok and out:gsub("%s+$", "") or nil
end

--- The number of lines in s (an error must be exactly one line).
function M.lines(s)
  local n = 0
  for _ in s:gmatch("[^\n]+") do n = n + 1 end
  return n
end

--- A fresh temporary directory.
function M.tempdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. quote(p)))
  return p
end

function M.rmdir(p)
  os.execute("rm -rf " .. quote(p))
end

--- fn(...) with the process environment's `vars` set (name → value, false to unset),
--- so children inherit them and no value travels on a command line; the old values are
--- back afterwards, also when fn fails. Returns what fn returns.
function M.with_env(vars, fn, ...)
  local sys = require "sparkgen.sys"
  local old = {}
  for k, v in pairs(vars) do
    old[k] = os.getenv(k) or false
    sys.setenv(k, v or nil)
  end
  local r = table.pack(pcall(fn, ...))
  for k, v in pairs(old) do sys.setenv(k, v or nil) end
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

-- Fixtures: call these in a describe block (or at a spec file's top level), where its
-- setup/before_each would go; they register busted's hooks for that block.

--- A fresh temporary directory for each test of the block: made before the test (with
--- opts.config, if given, written to its sparkgen.lua) and removed after it, also when
--- the test fails. Returns a table whose field dir is the current test's directory.
function M.temp_home(opts)
  opts = opts or {}
  local busted = require "busted"
  local home = {}
  busted.before_each(function()
    home.dir = M.tempdir()
    if opts.config then M.write(home.dir .. "/sparkgen.lua", opts.config) end
  end)
  busted.after_each(function()
    if home.dir then M.rmdir(home.dir) end
    home.dir = nil
  end)
  return home
end

--- The mock Anthropic server (tests/mock) for the block: started once before its first
--- test with opts (mock.start's: api_key=, cache_min_tokens=, latency_ms=), its script
--- and record cleared before each test, stopped after the last one. Returns a handle
--- that reads as the server's own (url, script, requests, reset, config) plus
---   env(extra)       {ANTHROPIC_BASE_URL = its url} with extra's entries over it
---   run(argv, opts)  M.run with env(opts.env) and opts.api_key's key in the inherited
---                    environment (never on a command line); asserts that no output
---                    holds the key.
function M.with_mock(opts)
  opts = opts or {}
  local busted = require "busted"
  local dir = M.HOME .. "/tests/mock/?.lua;"
  if package.path:sub(1, #dir) ~= dir then package.path = dir .. package.path end
  local server
  local handle = {}
  function handle.env(extra)
    local env = {ANTHROPIC_BASE_URL = handle.url}
    for k, v in pairs(extra or {}) do env[k] = v end
    return env
  end
  function handle.run(argv, run_opts)
    local o = {}
    for k, v in pairs(run_opts or {}) do o[k] = v end
    o.env = handle.env(o.env)
    local r = M.with_env({ANTHROPIC_API_KEY = opts.api_key or false}, M.run, argv, o)
    if opts.api_key then
      require("luassert").is_nil((r.stdout .. r.stderr):find(opts.api_key, 1, true),
        "the API key leaked into the output")
    end
    return r
  end
  setmetatable(handle, {__index = function(_, k)
    if not server then error("the mock server runs only during the block's tests", 2) end
    return server[k]
  end})
  busted.setup(function() server = require("mock").start(opts) end)
  busted.teardown(function()
    if server then server.stop() end
    server = nil
  end)
  busted.before_each(function() server.reset() end)
  return handle
end

return M

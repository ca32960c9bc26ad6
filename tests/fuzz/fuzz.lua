-- tests/fuzz/fuzz.lua — throws random and structured bad input at the sparkgen binary:
-- argv, --context values, snapshot files, config files, batch lines, plugin files,
-- FIFOs, devices and directories where a file is expected, and hostile Lua (loops,
-- runaway memory, io/os) wherever a user's Lua runs.
-- A case fails when the binary exits 70 (an internal error), dies of a signal, runs past
-- the per-case timeout, or a sanitizer reports (status 99 or its report on stderr); a
-- clean error line with status 1 or 2 is a pass. Prints TAP.
--
--   SPARKGEN=./sparkgen ./sparkgen run --trusted tests/fuzz/fuzz.lua      (tests/run.sh: suite fuzz)
--   SPARKGEN_FUZZ_SEED=n     seed of the generated cases (printed; default fixed)
--   SPARKGEN_FUZZ_CASES=n    how many generated cases (default 60)
--
-- Every case that ever failed is kept in tests/fuzz/corpus/ (one JSON file per case:
-- argv, files written into the case's directory, env, stdin) and replayed first. A
-- failing generated case is written there by this run, to be committed with its fix.
-- A corpus case may carry "owner" and "note": while it still fails it is reported as a
-- skip naming the owner (work another engineer has in flight), never silently dropped.
-- Its "signature" (a plain substring of the failure) marks generated cases that fail
-- the same known way: skipped with the same owner, not saved again.
local proc = require "sparkgen.proc"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"
local cjson = require "cjson.safe"

local HOME = sys.realpath(os.getenv("SPARKGEN_HOME") or ".") or "."
local BIN = sys.realpath(os.getenv("SPARKGEN") or (HOME .. "/sparkgen")) or "sparkgen"
local SEED = math.tointeger(tonumber(os.getenv("SPARKGEN_FUZZ_SEED"))) or 20261204
local CASES = math.tointeger(tonumber(os.getenv("SPARKGEN_FUZZ_CASES"))) or 60
local TIMEOUT = os.getenv("SANITIZE") == "1" and 40 or 15
local CORPUS = HOME .. "/tests/fuzz/corpus"
local SHOP = util.read_file(HOME .. "/examples/shop/schema.json")

-- ---------------------------------------------------------------- running a case

local SANITIZER = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer"}

local function case_env(dir, extra)
  local env = {PATH = os.getenv("PATH"), HOME = dir, TZ = "UTC", LC_ALL = "C.UTF-8",
               XDG_CACHE_HOME = dir .. "/.cache", XDG_CONFIG_HOME = dir .. "/.config",
               TMPDIR = dir, SPARKGEN_HOME = HOME,
               -- a closed port: a request that reaches for the model fails at once
               ANTHROPIC_BASE_URL = "http://127.0.0.1:1", SPARKGEN_PYTHON = os.getenv("SPARKGEN_PYTHON")}
  for _, k in ipairs({"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "SPARKGEN_MODULE_DIR"}) do
    env[k] = os.getenv(k)
  end
  for k, v in pairs(extra or {}) do env[k] = v ~= false and v:gsub("%$DIR", dir) or nil end
  return env
end

--- Run one case: nil when it passed, else what went wrong (one line).
local function run_case(c)
  local dir = assert(util.tempdir("sparkgen-fuzz"))
  for name, text in pairs(c.files or {}) do
    sys.mkdir_p(util.dirname(dir .. "/" .. name))
    assert(util.write_file(dir .. "/" .. name, text))
  end
  for _, name in ipairs(c.fifos or {}) do -- FIFOs where files are expected
    sys.mkdir_p(util.dirname(dir .. "/" .. name))
    assert(os.execute("mkfifo " .. util.shell_quote(dir .. "/" .. name)))
  end
  local argv = {BIN}
  for _, a in ipairs(c.argv) do argv[#argv + 1] = a end
  local p, err = proc.spawn{argv = argv, env = case_env(dir, c.env), cwd = dir,
                            stdin = "pipe", stdout = "pipe", stderr = "pipe"}
  if not p then util.remove_tree(dir) return "cannot start: " .. tostring(err) end
  local out, perr = p:communicate(c.stdin or "", TIMEOUT)
  local problem
  if out == nil then
    p:kill(9)
    p:wait(5)
    problem = ("hung: no exit within %d s"):format(TIMEOUT)
  else
    local how, code = p:wait(5)
    if how == "signal" then
      problem = "killed by signal " .. tostring(code)
    elseif how ~= "exit" then
      problem = "did not exit"
    elseif code == 70 then
      problem = "exit 70: " .. (perr:match("sparkgen: internal error: ([^\n]*)") or "")
    elseif code == 99 then
      problem = "sanitizer exit status 99"
    end
    for _, mark in ipairs(SANITIZER) do
      if not problem and perr:find(mark, 1, true) then problem = "sanitizer: " .. (perr:match("[^\n]*" .. mark:gsub("%p", "%%%0") .. "[^\n]*") or mark) end
    end
  end
  p:close()
  if not problem and sys.stat(dir .. "/pwned") then problem = "user Lua reached io/os: it created a file" end
  util.remove_tree(dir)
  return problem and util.excerpt(problem, 300)
end

-- ---------------------------------------------------------------- generators

-- The cases' own generator (xorshift64*), so what a seed produces never depends on who
-- else calls math.random (temporary names do): R(n) is 1..n, R(a, b) is a..b.
local state = SEED ~ 0x9E3779B97F4A7C15
if state == 0 then state = 1 end
local function R(a, b)
  state = state ~ (state >> 12)
  state = state ~ (state << 25)
  state = state ~ (state >> 27)
  local x = (state * 0x2545F4914F6CDD1D) >> 1 -- non-negative
  if b == nil then a, b = 1, a end
  return a + x % (b - a + 1)
end

local function pick(list) return list[R(#list)] end

local WEIRD_STRINGS = {"", " ", "-", "--", "=", "==", "x=", "=y", "%", "%s%d", "\\", "'", "\"", "{", "}",
  "{}", "[]", "null", "nil", "NaN", "nan", "inf", "-inf", "1e309", "-1", "0", "1e300", "9223372036854775808",
  "0x7fffffffffffffff", "3.5", "true", "false", "last_month", "orders", "public.orders", "a.b.c",
  ("x"):rep(5000), ("é"):rep(300), "\xff\xfe", "\t\n", "$(HOME)", "${HOME}", "../../etc/passwd", "/dev/zero",
  "/dev/null", ".", "..", "sk-ant-api03-secret", "--help", "-c", "--context"}

local function weird_string()
  if R(4) == 1 then
    local n = R(0, 40)
    local bytes = {}
    for i = 1, n do bytes[i] = string.char(R(1, 255)) end
    return table.concat(bytes)
  end
  return pick(WEIRD_STRINGS)
end

local function weird_number()
  return pick({0, -1, 1, 2, 10, 1000, 1e9, 1e18, 1e300, -1e300, 0.5, -0.0, math.maxinteger, math.mininteger})
end

-- A random JSON-able value, for replacing parts of documents.
local function weird_value(depth)
  depth = depth or 0
  local k = R(depth > 2 and 5 or 8)
  if k == 1 then return weird_string()
  elseif k == 2 then return weird_number()
  elseif k == 3 then return R(2) == 1
  elseif k == 4 then return cjson.null
  elseif k == 5 then return pick({"", "table", "view", "integer", "orders"})
  elseif k == 6 then return {weird_value(depth + 1)}
  elseif k == 7 then return {[pick({"name", "schema", "type", "x", "columns"})] = weird_value(depth + 1)}
  else return {} end
end

-- Every table inside a decoded document, with its path, for mutation.
local function containers(doc)
  local out = {}
  local function walk(v)
    if type(v) ~= "table" then return end
    out[#out + 1] = v
    for _, x in pairs(v) do walk(x) end
  end
  walk(doc)
  return out
end

local function mutate_json(text)
  local doc = cjson.decode(text)
  local n = R(1, 4)
  for _ = 1, n do
    local list = containers(doc)
    local t = pick(list)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local op = R(4)
    if #keys == 0 or op == 1 then
      t[#t + 1] = weird_value()
    elseif op == 2 then
      t[pick(keys)] = nil
    else
      t[pick(keys)] = weird_value()
    end
  end
  local out = cjson.encode(doc) or text
  if R(6) == 1 then out = out:sub(1, R(0, #out)) end -- truncated
  return out
end

local COMMANDS = {"generate", "schema", "types", "batch", "lint", "prompt", "cache"}
local OPTIONS = {"--schema", "--db", "--schemas", "--context", "-c", "--provider", "--model", "--max-repairs",
  "--json", "--job", "--log-level", "--log-format", "--config", "--strict", "--refresh", "--allow-stale",
  "--no-cache", "--keep-invalid", "--which", "--for", "--table", "--concurrency", "--jobs", "--no-progress",
  "--compact", "--url", "--version", "--help", "-h", "--unknown-flag"}

local generators = {}

function generators.argv()
  local argv = {}
  if R(5) > 1 then argv[1] = pick(COMMANDS) end
  for _ = 1, R(0, 6) do
    local r = R(3)
    if r == 1 then argv[#argv + 1] = pick(OPTIONS)
    elseif r == 2 then argv[#argv + 1] = weird_string()
    else argv[#argv + 1] = pick({"orders", "customers", "revenue_by_category", "top_customers", "shop.json"}) end
  end
  for i, a in ipairs(argv) do argv[i] = a:gsub("%z", "") end
  return {argv = argv, files = {["shop.json"] = SHOP}}
end

function generators.context()
  local v
  if R(2) == 1 then
    v = pick({"time_period", "limit", "as_of", "x", "", "1"}) .. "=" .. weird_string()
  else
    v = pick({"{limit = 5}", "{time_period = 'last_month', limit = 3}", "{as_of = '2024-01-31'}", "{}"})
    local pos = R(1, #v + 1)
    v = v:sub(1, pos - 1) .. pick({"", "{", "}", "=", ",", "'", "..", " nil ", " 1e400 ", "[[", "]]", "--"}) .. v:sub(pos + R(0, 2))
  end
  return {argv = {"generate", "orders", pick({"revenue_by_category", "top_customers", "daily_sales"}),
                  "--schema", "shop.json", "--context", (v:gsub("%z", ""))}, files = {["shop.json"] = SHOP}}
end

function generators.snapshot()
  local argv = pick({{"schema", "--schema", "snap.json"}, {"schema", "orders", "--schema", "snap.json"},
    {"generate", "orders", "revenue_by_category", "--schema", "snap.json"},
    {"prompt", "orders", "revenue_by_category", "--schema", "snap.json"},
    {"lint", "body.py", "--schema", "snap.json"}})
  return {argv = argv, files = {["snap.json"] = mutate_json(SHOP),
    ["body.py"] = "result_df = read_table('orders').groupBy('customer_id').count()\n"}}
end

local function lua_literal(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "string" then return ("%q"):format(v) end
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return ("%.17g"):format(v)
  end
  if t == "boolean" then return tostring(v) end
  if v == cjson.null then return "nil" end
  if t == "table" and depth < 3 then
    local parts = {}
    for k, x in pairs(v) do
      local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or ("[" .. lua_literal(k, depth + 1) .. "]")
      parts[#parts + 1] = key .. " = " .. lua_literal(x, depth + 1)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return "nil"
end

local CONFIG_KEYS = {
  {"schema_ttl"}, {"statement_timeout_ms"}, {"connect_timeout_s"}, {"prompt_table_budget"}, {"max_tokens"},
  {"temperature"}, {"max_repairs"}, {"provider"}, {"http", "timeout_s"}, {"http", "retries"},
  {"http", "concurrency"}, {"cache", "ttl_s"}, {"cache", "max_entries"}, {"cache", "max_bytes"},
  {"cache", "lru_entries"}, {"cache", "enabled"}, {"log", "level"}, {"strict"}, {"paths"}, {"lint"}, {"unknown_key"},
}

function generators.config()
  local cfg = {}
  for _ = 1, R(1, 3) do
    local path = pick(CONFIG_KEYS)
    local value = R(3) == 1 and weird_value() or weird_number()
    if #path == 1 then cfg[path[1]] = value else
      cfg[path[1]] = type(cfg[path[1]]) == "table" and cfg[path[1]] or {}
      cfg[path[1]][path[2]] = value
    end
  end
  local text = "return " .. lua_literal(cfg) .. "\n"
  if R(8) == 1 then text = text:sub(1, R(0, #text)) end
  return {argv = pick({{"generate", "orders", "revenue_by_category", "--schema", "shop.json"}, {"types"},
                       {"cache", "stats"}, {"schema", "--schema", "shop.json"}}),
          files = {["sparkgen.lua"] = text, ["shop.json"] = SHOP}}
end

function generators.batch()
  local lines = {}
  for i = 1, R(1, 5) do
    local req = {source = pick({"orders", "customers", "nope", 5}), type = pick({"revenue_by_category",
      "top_customers", "no_such_type", 3}), context = R(2) == 1 and {limit = weird_value()} or nil}
    if R(3) == 1 then req[pick({"source", "type", "context", "text", "extra"})] = weird_value() end
    local line = cjson.encode(req) or "{}"
    if R(5) == 1 then line = weird_string():gsub("\n", " ") end
    lines[i] = line
  end
  return {argv = {"batch", "reqs.jsonl", "--schema", "shop.json", "--no-progress", "--concurrency", "2"},
          files = {["reqs.jsonl"] = table.concat(lines, "\n") .. "\n", ["shop.json"] = SHOP}}
end

function generators.plugin()
  local plugin = {name = pick({"fz", "other", 5}), summary = pick({"A type", 7, cjson.null}),
    tables = pick({{"orders"}, {"nope"}, "orders", {}}), complexity = pick({"low", "extreme", 1}),
    params = pick({{limit = {type = "integer", min = 1, max = 10, default = 3}},
                   {limit = {type = pick({"integer", "enum", "bogus"}), values = weird_value(), default = weird_value()}},
                   weird_value()}),
    checks = pick({{{rule = "non_empty"}}, {{rule = "no_such_rule"}}, {{rule = "positive"}}, weird_value()}),
    guidance = "Sum things.", description = pick({"Rows for $(limit).", "$(", weird_string()})}
  if R(3) == 1 then plugin[pick({"name", "params", "checks", "template", "bogus"})] = weird_value() end
  local text = "return " .. lua_literal(plugin) .. "\n"
  return {argv = pick({{"types"}, {"types", "fz"}, {"generate", "orders", "fz", "--schema", "shop.json"},
                       {"generate", "orders", "fz", "--schema", "shop.json", "--strict"}}),
          env = {SPARKGEN_PATH = "$DIR/root"},
          files = {["root/types/fz.lua"] = text, ["shop.json"] = SHOP}}
end

-- Something that is not a regular file (a FIFO, a device, a directory) wherever sparkgen
-- reads one: it must be refused at once, never read or waited on.
function generators.irregular()
  local target = pick({"fifo", "/dev/zero", "/dev/urandom", "sub", "."})
  local c = {fifos = {"fifo", "root/types/fz.lua"}, files = {["shop.json"] = SHOP, ["sub/keep"] = ""},
             env = {SPARKGEN_PATH = "$DIR/root"}}
  c.argv = pick({{"schema", "--schema", target}, {"batch", target, "--schema", "shop.json"},
                 {"lint", target}, {"types"}, {"generate", "orders", "revenue_by_category", "--schema", target},
                 {"--config", target, "types"}, {"schema", "dump", target, "--schema", "shop.json"},
                 {"generate", "orders", "revenue_by_category", "--schema", "shop.json", "--job", target}})
  return c
end

-- Lua that must be stopped, not obeyed: loops, runaway memory and recursion, reaching
-- for io/os/load, changing a library other code shares. Put wherever sparkgen runs Lua a
-- user wrote: a --context literal, ./sparkgen.lua, a type plugin, a Lua batch file.
local HOSTILE = {
  "(function() while true do end end)()",
  "(function() local t = {} for i = 1, 1e9 do t[i] = i end end)()",
  "(function() local s = 'x' for _ = 1, 40 do s = s .. s end return s end)()",
  "(function() local function f() return f() + 1 end return f() end)()",
  "(function() local function f(n) return f(n + 1) .. '' end return f(1) end)()",
  "os.execute('touch pwned')",
  "io.open('pwned', 'w')",
  "load('return 1')()",
  "require('os')",
  "(function() string.upper = nil end)()",
  "setmetatable({}, {__index = function(t, k) return t[k] end}).x",
  "string.rep('x', 1 << 40)",
  "('x'):rep(1e8):rep(1e8)",
}

function generators.hostile()
  local code = pick(HOSTILE)
  local where = R(4)
  if where == 1 then
    return {argv = {"generate", "orders", "top_customers", "--schema", "shop.json", "--context", "{limit = " .. code .. "}"},
            files = {["shop.json"] = SHOP}}
  elseif where == 2 then
    return {argv = {"types"}, files = {["sparkgen.lua"] = "local x = " .. code .. "\nreturn {}\n"}}
  elseif where == 3 then
    return {argv = {"generate", "orders", "fz", "--schema", "shop.json"}, env = {SPARKGEN_PATH = "$DIR/root"},
            files = {["shop.json"] = SHOP, ["root/types/fz.lua"] = ("local x = %s\nreturn {name = 'fz', summary = 's', " ..
              "tables = {'orders'}, guidance = 'g', description = 'd'}\n"):format(code)}}
  end
  return {argv = {"batch", "reqs.lua", "--schema", "shop.json", "--no-progress"},
          files = {["shop.json"] = SHOP, ["reqs.lua"] = ("local x = %s\nreturn {{source = 'orders', type = 'top_customers'}}\n"):format(code)}}
end

local FAMILIES = {"argv", "context", "snapshot", "config", "batch", "plugin", "irregular", "hostile"}

-- ---------------------------------------------------------------- the run

local function describe_case(c)
  local parts = {}
  for i, a in ipairs(c.argv) do parts[i] = util.shell_quote(a) end
  return util.excerpt(table.concat(parts, " "), 120)
end

local function save(c, family, n)
  sys.mkdir_p(CORPUS)
  local path = ("%s/%s-%d-%d.json"):format(CORPUS, family, SEED, n)
  util.write_file(path, util.json_encode(c, 2) .. "\n")
  return path
end

local n = 0
local failed = 0
local known = {} -- {signature, owner} of the corpus cases someone is working on
print(("# seed %d (SPARKGEN_FUZZ_SEED=%d reproduces this run), %d generated cases"):format(SEED, SEED, CASES))

for _, name in ipairs(sys.listdir(CORPUS) or {}) do
  if name:match("%.json$") then
    local c = cjson.decode(util.read_file(CORPUS .. "/" .. name) or "")
    n = n + 1
    if type(c) ~= "table" or type(c.argv) ~= "table" then
      print(("not ok %d - corpus %s: not a case file"):format(n, name))
      failed = failed + 1
    else
      local problem = run_case(c)
      if not problem then
        print(("ok %d - corpus %s"):format(n, name))
      elseif c.owner then
        if type(c.signature) == "string" then known[#known + 1] = {c.signature, c.owner} end
        print(("ok %d - corpus %s # SKIP still fails, %s is on it: %s"):format(n, name, c.owner, problem))
      else
        print(("not ok %d - corpus %s: %s"):format(n, name, problem))
        print("# " .. describe_case(c))
        failed = failed + 1
      end
    end
  end
end

for i = 1, CASES do
  local family = FAMILIES[(i - 1) % #FAMILIES + 1]
  local c = generators[family]()
  c.family = family
  local problem = run_case(c)
  n = n + 1
  local owner
  for _, k in ipairs(known) do
    if problem and problem:find(k[1], 1, true) then owner = k[2] end
  end
  if owner then
    print(("ok %d - %s case %d # SKIP fails the known way, %s is on it: %s"):format(n, family, i, owner, problem))
  elseif problem then
    local path = save(c, family, i)
    print(("not ok %d - %s case %d: %s"):format(n, family, i, problem))
    print("# " .. describe_case(c))
    print("# kept as a regression case: " .. path)
    failed = failed + 1
  else
    print(("ok %d - %s case %d: %s"):format(n, family, i, describe_case(c)))
  end
end
print(("1..%d"):format(n))
os.exit(failed == 0 and 0 or 1)

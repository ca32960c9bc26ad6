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

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
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

--- `sparkgen generate orders revenue_by_category --schema SHOP` plus extra arguments,
--- through M.run with opts: the offline request most end-to-end specs start from.
function M.generate(extra, opts)
  local argv = {"generate", "orders", "revenue_by_category", "--schema", M.SHOP}
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return M.run(argv, opts)
end

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

return M

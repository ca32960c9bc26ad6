-- util.lua — small helpers shared by the engine: files, JSON, suggestions, quoting,
-- redaction. Nothing here knows about sparkgen's domain.
local cjson = require "cjson.safe"
local sys = require "sparkgen.sys"

local M = {}

-- Every file sparkgen reads goes through read_file: only regular files (a FIFO or a
-- device is refused at once, never read or waited on) and never more than a limit.
M.READ_LIMIT = 64 * 1024 * 1024        -- config, batch files, plugins, templates, caches
M.SCHEMA_READ_LIMIT = 1024 * 1024 * 1024 -- --schema files: a 200,000-column catalog is ~40 MB

--- Read a whole file (at most max_bytes, default M.READ_LIMIT). Returns contents or
--- nil, message ("PATH: not a regular file (a FIFO)", "PATH: too large (...)").
function M.read_file(path, max_bytes)
  return sys.read_file(path, max_bytes or M.READ_LIMIT)
end

--- Write a file atomically (temp file in the same directory, then rename). A target
--- that exists and is not a regular file — a symbolic link, a device, a FIFO, a
--- directory — is refused and left as it was: replacing a link would silently move
--- the data somewhere else than the user pointed at.
function M.write_file(path, data)
  return sys.write_file(path, data)
end

function M.file_exists(path)
  local st = sys.stat(path)
  return st ~= nil and st.type == "file"
end

function M.dir_exists(path)
  local st = sys.stat(path)
  return st ~= nil and st.type == "dir"
end

function M.dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

function M.basename(path)
  return path:match("([^/]*)$")
end

-- Debian's lua-cjson predates cjson.array_mt, so sparkgen marks arrays itself and
-- encodes with M.json_encode below.
M.ARRAY_MT = {__name = "sparkgen.array"}

--- Mark a table as a JSON array (so an empty one encodes as [] not {}).
function M.array(t)
  return setmetatable(t or {}, M.ARRAY_MT)
end

M.json_null = cjson.null

--- Decode untrusted JSON: value or nil, message.
function M.json_decode(text)
  local value, err = cjson.decode(text)
  if value == nil then return nil, "invalid JSON: " .. tostring(err) end
  return value
end

local function by_string(a, b) return tostring(a) < tostring(b) end
local function sorted_keys(t)
  local keys, strings = {}, true
  for k in pairs(t) do
    keys[#keys + 1] = k
    if strings and type(k) ~= "string" then strings = false end
  end
  table.sort(keys, not strings and by_string or nil)
  return keys
end
M.sorted_keys = sorted_keys

-- cjson escapes "/" as "\/"; valid JSON, but noisy in paths and code.
local function enc_plain(v)
  local e = cjson.encode(v)
  if e:find("\\/", 1, true) then e = e:gsub("\\/", "/") end
  return e
end

-- The canonical encoder is C (src/json.c): a batch encodes every request's cache key,
-- history row and result with it. Strings are escaped byte for byte as lua-cjson
-- escapes them (the table is taken from cjson itself), and what is not a table,
-- string, boolean or integral number is left to cjson.
local escapes = {}
for b = 0, 255 do
  local c = string.char(b)
  local e = enc_plain(c):sub(2, -2)
  if e ~= c then escapes[b + 1] = e end
end
-- Tables promised never to change again (json_freeze): true, then their encoding.
local frozen = setmetatable({}, {__mode = "k"})
local encode = require("sparkgen.json").encoder(M.ARRAY_MT, escapes, function(v) return cjson.encode(v) or "null" end,
  frozen)

--- Promise that table t (and everything in it) will not change again, so the compact
--- json_encode of it is computed once and reused: a batch encodes the same tool schema
--- into every request's cache key and body. Returns t.
function M.json_freeze(t)
  if frozen[t] == nil then frozen[t] = true end
  return t
end

--- Canonical JSON: object keys sorted at every level, so equal values encode equally
--- (used for cache keys, files and --json output). Arrays are tables with keys 1..n
--- only, or tables marked with M.array (needed for empty ones). `indent` pretty-prints.
function M.json_encode(value, indent)
  return encode(value, indent)
end

--- Levenshtein distance (small strings: identifiers).
function M.distance(a, b)
  a, b = a:lower(), b:lower()
  if a == b then return 0 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    local ca = a:byte(i)
    for j = 1, #b do
      local cost = (ca == b:byte(j)) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- {v = true} for every value of `list` (nil: an empty set).
function M.set_of(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

--- The closest candidates to `name` (at most `max`, default 3), best first.
function M.closest(name, candidates, max)
  local scored = {}
  for _, c in ipairs(candidates) do
    local d = M.distance(name, c)
    local limit = math.max(2, math.floor(#name / 2))
    if d <= limit or c:lower():find(name:lower(), 1, true) or name:lower():find(c:lower(), 1, true) then
      scored[#scored + 1] = {c, d}
    end
  end
  table.sort(scored, function(x, y) if x[2] ~= y[2] then return x[2] < y[2] end return x[1] < y[1] end)
  local out = {}
  for i = 1, math.min(max or 3, #scored) do out[i] = scored[i][1] end
  return out
end

--- " (did you mean: a, b?)" or "" — for error messages.
function M.suggest(name, candidates)
  local best = M.closest(name, candidates)
  if #best == 0 then return "" end
  return " (did you mean: " .. table.concat(best, ", ") .. "?)"
end

--- Quote one word for /bin/sh.
function M.shell_quote(s)
  s = tostring(s)
  if s:match("^[%w@%%+=:,./_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.shell_join(argv)
  local out = {}
  for i, a in ipairs(argv) do out[i] = M.shell_quote(a) end
  return table.concat(out, " ")
end

--- Remove passwords from connection strings and URLs, and API-key-looking tokens.
function M.redact(s)
  if type(s) ~= "string" then return s end
  s = s:gsub("(%w+://[^:/@%s]*:)[^@%s]*@", "%1***@")
  s = s:gsub("([Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]%s*=%s*)'[^']*'", "%1***")
  s = s:gsub("([Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]%s*=%s*)[^%s']+", "%1***")
  s = s:gsub("sk%-ant%-[%w_-]+", "sk-ant-***")
  return s
end

--- A Python string literal for s, quoted with `quote` (' or "): quotes, backslashes and
--- control characters escaped, UTF-8 kept as is (Python source is UTF-8). Used for
--- everything sparkgen writes into generated Python, so no value is spliced raw.
function M.python_string(s, quote)
  return quote .. tostring(s):gsub("[%c" .. quote .. "\\]", function(c)
    if c == quote then return "\\" .. quote end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    if c == "\r" then return "\\r" end
    return ("\\x%02x"):format(c:byte())
  end) .. quote
end

--- A one-line, redacted excerpt of at most n (200) characters, for error messages that
--- quote what a server sent.
function M.excerpt(s, n)
  s = tostring(s or ""):gsub("%s+", " ")
  n = n or 200
  if #s > n then s = s:sub(1, n) .. "..." end
  return M.redact(s)
end

-- An expected failure found deep inside a call that has no error return (a damaged
-- cache that cannot be rebuilt): util.fail raises it, and cli.main turns it into one
-- line and status 1, exactly like a command returning nil, message.
M.FAILURE_MT = {__name = "sparkgen.failure", __tostring = function(f) return f.message end}

function M.fail(message)
  error(setmetatable({message = tostring(message)}, M.FAILURE_MT), 0)
end

function M.is_failure(e)
  return getmetatable(e) == M.FAILURE_MT
end

--- Shallow copy / deep copy.
function M.copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return setmetatable(out, getmetatable(t))
end

function M.deepcopy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = M.deepcopy(x) end
  return setmetatable(out, getmetatable(v))
end

function M.trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

function M.split(s, sep)
  local out = {}
  for piece in (s .. sep):gmatch("(.-)" .. sep:gsub("%p", "%%%0")) do
    out[#out + 1] = piece
  end
  return out
end

--- Today's date (UTC) as YYYY-MM-DD.
function M.today()
  return os.date("!%Y-%m-%d")
end

--- ISO-8601 UTC timestamp with milliseconds.
function M.timestamp(t)
  t = t or sys.now()
  local secs = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. (".%03dZ"):format(math.floor((t - secs) * 1000))
end

--- A fresh temporary directory (removed by the caller with remove_tree).
function M.tempdir(prefix)
  local base = os.getenv("TMPDIR") or "/tmp"
  for _ = 1, 10 do
    local path = ("%s/%s-%d-%d"):format(base, prefix or "sparkgen", sys.getpid(), math.random(1, 1 << 30))
    if not sys.stat(path) then
      local ok, err = sys.mkdir_p(path)
      if ok then return path end
      return nil, err
    end
  end
  return nil, "cannot create a temporary directory in " .. base
end

function M.remove_tree(path)
  local st = sys.stat(path)
  if not st then return end
  if st.type == "dir" then
    for _, name in ipairs(sys.listdir(path) or {}) do
      M.remove_tree(path .. "/" .. name)
    end
  end
  os.remove(path)
end

return M

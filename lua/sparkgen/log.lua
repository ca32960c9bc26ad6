-- log.lua — structured logging to stderr.
-- One event per line: JSON (`--log-format json`, the default when stderr is not a
-- terminal) or a readable line on a terminal. Every event has a timestamp, a level and
-- an operation; spans add status and duration. Values under secret-looking keys are
-- replaced by "***" and strings pass through util.redact, so a key or password that
-- slips into a log call is still not written.
local cjson = require "cjson.safe"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

local LEVELS = {debug = 10, info = 20, warn = 30, error = 40, off = 100}
M.LEVELS = LEVELS

local state = {level = LEVELS.warn, format = nil, sink = io.stderr}

local SECRET_KEYS = {"api[_-]?key", "password", "passwd", "secret", "authorization", "^token$", "^pgpassword$"}

local function is_secret_key(k)
  k = tostring(k):lower()
  for _, pat in ipairs(SECRET_KEYS) do
    if k:find(pat) then return true end
  end
  return false
end

local function clean(v, depth)
  depth = depth or 0
  if type(v) == "string" then return util.redact(v) end
  if type(v) ~= "table" or depth > 6 then
    if type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then return tostring(v) end
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = is_secret_key(k) and "***" or clean(x, depth + 1)
  end
  return setmetatable(out, getmetatable(v) == util.ARRAY_MT and util.ARRAY_MT or nil)
end
M.clean = clean

--- configure{level = "info", format = "json"|"text"|"auto", sink = file}
function M.configure(opts)
  if opts.level then
    local lv = LEVELS[opts.level]
    if not lv then return nil, ("unknown log level '%s' (use debug, info, warn, error or off)"):format(opts.level) end
    state.level = lv
  end
  if opts.format then
    if opts.format ~= "json" and opts.format ~= "text" and opts.format ~= "auto" then
      return nil, ("unknown log format '%s' (use json, text or auto)"):format(opts.format)
    end
    state.format = opts.format ~= "auto" and opts.format or nil
  end
  if opts.sink then state.sink = opts.sink end
  return true
end

function M.enabled(level)
  return LEVELS[level] >= state.level
end

local function format_text(ev)
  local parts = {("%s %-5s %s"):format(ev.timestamp:sub(12, 23), ev.level:upper(), ev.op)}
  if ev.status then parts[#parts + 1] = ev.status end
  if ev.duration_ms then parts[#parts + 1] = ("%.1fms"):format(ev.duration_ms) end
  for _, k in ipairs(util.sorted_keys(ev)) do
    if k ~= "timestamp" and k ~= "level" and k ~= "op" and k ~= "status" and k ~= "duration_ms" then
      local v = ev[k]
      parts[#parts + 1] = k .. "=" .. (type(v) == "table" and (cjson.encode(v) or "?") or tostring(v))
    end
  end
  return table.concat(parts, " ")
end

--- Emit one event: log.emit("info", "schema.load", {params = {...}, status = "ok"})
function M.emit(level, op, fields)
  if LEVELS[level] < state.level then return end
  local ev = clean(fields or {})
  ev.timestamp = util.timestamp()
  ev.level = level
  ev.op = op
  local fmt = state.format or (sys.isatty(2) and "text" or "json")
  local line = fmt == "json" and util.json_encode(ev) or format_text(ev)
  state.sink:write(line, "\n")
  state.sink:flush()
end

for name in pairs(LEVELS) do
  if name ~= "off" then
    M[name] = function(op, fields) M.emit(name, op, fields) end
  end
end

--- A timed operation: local s = log.span("llm.request", {model = m}); ...; s:done("ok", {tokens = n})
--- s:fail(err) records an expected failure (bad input, unreachable service) at info
--- level: the CLI already tells the user in one line, so the log must not repeat it at
--- the default level; `--log-level info` shows it with its duration and parameters.
function M.span(op, params)
  local started = sys.monotonic()
  local span = {}
  function span.done(_, status, extra, level)
    local fields = extra and util.copy(extra) or {}
    fields.params = params
    fields.status = status or "ok"
    fields.duration_ms = (sys.monotonic() - started) * 1000
    M.emit(level or "info", op, fields)
    return fields.duration_ms
  end
  function span.fail(self, err, extra)
    local fields = extra and util.copy(extra) or {}
    fields.error = tostring(err)
    return self:done("error", fields, "info")
  end
  function span.elapsed()
    return sys.monotonic() - started
  end
  return span
end

return M

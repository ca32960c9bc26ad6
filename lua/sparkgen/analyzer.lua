-- analyzer.lua — py/analyze.py as a service: long-lived analyser processes that take
-- code and give facts as JSON lines over pipes (`analyze.py --serve`), so a batch pays
-- Python's start-up once per process instead of once per answer, and answers are
-- analysed while other model requests are still in flight.
--
--   analyzer.pool(python, script, size?) -> pool   (size: processes at most; default
--                                                   the number of online cores)
--   analyzer.shared(python) -> pool | nil, message  one pool per interpreter per
--                                                   sparkgen process (py/analyze.py)
--   pool:submit(code, cb)      queue `code`; cb(facts, nil, facts_json) or
--                              cb(nil, message) is called later, from pool:poll /
--                              pool:wait / pool:analyze (facts_json: the facts as the
--                              analyser wrote them)
--   pool:poll(timeout_s?)      deliver the answers that are ready (waits up to
--                              timeout_s for the first one); returns how many
--   pool:wait(timeout_s?)      deliver every outstanding answer
--   pool:analyze(code)         facts | nil, message   (synchronous)
--   pool:stats()               {started = processes started, served = answers given,
--                               outstanding = n}
--   pool:close()               stop the processes (outstanding requests fail)
--
-- Processes start on first use: the first request starts one; another starts only when
-- every running one is busy, up to `size`. Each request goes to the least loaded
-- process. The child gets only PATH and a UTF-8 locale in its environment (never an API
-- key or a database password), runs `python3 -I -S -W ignore`, and reads its requests
-- on a thread, so writing many requests before reading any reply cannot deadlock.
-- A process that dies fails its outstanding requests with one message and is replaced
-- on the next request; an answer that takes longer than `timeout_s` (120 s) kills the
-- process the same way.
local cjson = require "cjson.safe"
local proc = require "sparkgen.proc"
local sys = require "sparkgen.sys"

local M = {}

M.TIMEOUT_S = 120

--- The number of online CPUs (from /sys), 1 when it cannot be read.
function M.cores()
  local f = io.open("/sys/devices/system/cpu/online", "r")
  local spec = f and f:read("l")
  if f then f:close() end
  local n = 0
  for a, b in (spec or ""):gmatch("(%d+)%-?(%d*)") do
    n = n + (b ~= "" and (tonumber(b) - tonumber(a) + 1) or 1)
  end
  return math.max(n, 1)
end

local Pool = {}
Pool.__index = Pool

function M.pool(python, script, size)
  assert(type(python) == "string" and type(script) == "string", "analyzer.pool: python and script required")
  return setmetatable({python = python, script = script, size = math.max(size or M.cores(), 1),
                       workers = {}, next_id = 0, started = 0, served = 0, outstanding = 0}, Pool)
end

local function child_env()
  return {PATH = os.getenv("PATH") or "/usr/bin:/bin", LC_ALL = "C.UTF-8", LANG = "C.UTF-8"}
end

function Pool:spawn()
  local p, err = proc.spawn{argv = {self.python, "-I", "-S", "-W", "ignore", self.script, "--serve"},
                            env = child_env(), stdin = "pipe", stdout = "pipe", stderr = "null"}
  if not p then return nil, ("cannot start the code analyser: %s"):format(err) end
  self.started = self.started + 1
  local w = {p = p, queue = {}, head = 1, tail = 0}
  self.workers[#self.workers + 1] = w
  return w
end

local function pending(w) return w.tail - w.head + 1 end

-- Fail every request a worker still owes and drop the worker.
function Pool:retire(w, why)
  for i, wk in ipairs(self.workers) do
    if wk == w then table.remove(self.workers, i) break end
  end
  local status, code = w.p:wait(0)
  if not status then w.p:kill(9); status, code = w.p:wait(1) end
  w.p:close()
  local what = status == "exit" and ("exit status %s"):format(code)
    or status == "signal" and ("signal %s"):format(code) or "no status"
  for k = w.head, w.tail do
    local item = w.queue[k]
    w.queue[k] = nil
    self.outstanding = self.outstanding - 1
    item.cb(nil, ("the code analyser failed (%s): %s"):format(what, why))
  end
  w.head, w.tail = 1, 0
end

-- The least loaded worker, starting one when all are busy and there is room.
function Pool:pick()
  local best
  for _, w in ipairs(self.workers) do
    if not best or pending(w) < pending(best) then best = w end
  end
  if (not best or pending(best) > 0) and #self.workers < self.size then
    local w, err = self:spawn()
    if w then return w end
    if not best then return nil, err end
  end
  return best
end

function Pool:submit(code, cb)
  assert(type(code) == "string" and type(cb) == "function", "pool:submit: code and callback required")
  local w, err = self:pick()
  if not w then return cb(nil, err) end
  self.next_id = self.next_id + 1
  local line = cjson.encode({id = self.next_id, code = code})
  w.tail = w.tail + 1
  w.queue[w.tail] = {id = self.next_id, cb = cb, deadline = sys.monotonic() + M.TIMEOUT_S}
  self.outstanding = self.outstanding + 1
  local ok, werr = w.p:write(line .. "\n")
  if not ok then self:retire(w, werr) end
end

-- Deliver every complete reply a worker has buffered.
function Pool:drain(w)
  local n = 0
  while pending(w) > 0 do
    local line, why = w.p:read_line(0)
    if not line then
      if why == "eof" then
        self:retire(w, "it stopped before answering")
      end
      return n
    end
    local item = w.queue[w.head]
    w.queue[w.head] = nil
    w.head = w.head + 1
    self.outstanding = self.outstanding - 1
    self.served = self.served + 1
    n = n + 1
    -- `{"id": N, "facts": F}`: F is decoded once and also handed over as text
    local id, raw = line:match('^{"id": (%d+), "facts": (.*)}$')
    local facts = raw and cjson.decode(raw)
    if math.tointeger(tonumber(id)) == item.id and type(facts) == "table" then
      item.cb(facts, nil, raw)
    else
      local reply = cjson.decode(line)
      if type(reply) ~= "table" or reply.id ~= item.id then
        item.cb(nil, "the code analyser answered out of turn")
        self:retire(w, "it answered out of turn")
        return n
      end
      item.cb(nil, ("the code analyser failed: %s"):format(tostring(reply.error or "no facts")))
    end
  end
  if pending(w) == 0 then w.head, w.tail = 1, 0 end
  return n
end

function Pool:poll(timeout_s)
  local busy = {}
  for _, w in ipairs(self.workers) do
    if pending(w) > 0 then busy[#busy + 1] = w end
  end
  if #busy == 0 then return 0 end
  local handles = {}
  for i, w in ipairs(busy) do handles[i] = w.p end
  local ready = proc.poll(handles, timeout_s or 0) or {}
  local n = 0
  local now = sys.monotonic()
  for _, w in ipairs(busy) do
    local is_ready = false
    for _, h in ipairs(ready) do if h == w.p then is_ready = true break end end
    if is_ready then
      n = n + self:drain(w)
    elseif w.queue[w.head] and now > w.queue[w.head].deadline then
      self:retire(w, ("no answer within %d s"):format(M.TIMEOUT_S))
    end
  end
  return n
end

function Pool:wait(timeout_s)
  local deadline = timeout_s and sys.monotonic() + timeout_s
  while self.outstanding > 0 do
    local left = deadline and deadline - sys.monotonic() or 1
    if left <= 0 then return false end
    self:poll(math.min(left, 1))
  end
  return true
end

function Pool:analyze(code)
  local facts, err, done = nil, nil, false
  self:submit(code, function(f, e) facts, err, done = f, e, true end)
  while not done do self:poll(1) end
  return facts, err
end

function Pool:stats()
  return {started = self.started, served = self.served, outstanding = self.outstanding,
          processes = #self.workers}
end

function Pool:close()
  while #self.workers > 0 do
    local w = self.workers[1]
    w.p:close_stdin()
    self:retire(w, "the analyser was closed")
  end
end

local shared = {}
--- The process-wide pool for `python` running the tree's py/analyze.py.
function M.shared(python)
  if shared[python] then return shared[python] end
  local script = require("sparkgen.paths").find("py", "analyze.py")
  if not script then return nil, "py/analyze.py not found in the sparkgen tree" end
  shared[python] = M.pool(python, script)
  return shared[python]
end

--- Every shared pool (for lint.wait and the tests).
function M.pools()
  local out = {}
  for _, p in pairs(shared) do out[#out + 1] = p end
  return out
end

return M

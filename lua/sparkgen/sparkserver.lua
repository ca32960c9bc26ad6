-- sparkserver.lua — one long-lived local Spark session per sparkgen process
-- (py/sparkserve.py behind two pipes, started through sparkgen.proc), shared by eval's
-- job runs and the plan check, so the JVM's start-up is paid once.
--
--   sparkserver.get(cfg, {jdbc = bool, master = url, remote = sc://url}) → server | nil, message
--   server:start()                 ask the session to start now (answer read later)
--   server:send(request)           one JSON request line
--   server:next(timeout_s)         → the next event (the "ready" of start() skipped)
--                                    | nil, message (the log's last lines say why)
--   server:close()                 stop it (also at exit: proc handles kill on __gc)
-- A server started without JDBC settings serves the plan check only; asking for jdbc
-- starts another one that has them.
local proc = require "sparkgen.proc"
local spark = require "sparkgen.spark"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

local servers = {}

--- Whether a local Spark is installed (spark-submit and its python found): true, or
--- false and the reason.
function M.available(cfg)
  local submit, err = spark.find_submit(cfg)
  if not submit then return false, err end
  return true
end

local Server = {}
Server.__index = Server

function Server:send(request)
  local ok, err = self.proc:write(util.json_encode(request) .. "\n")
  if not ok then return nil, self:died("cannot write to the Spark session: " .. tostring(err)) end
  return true
end

function Server:start()
  if self.started then return true end
  self.started, self.pending_ready = true, (self.pending_ready or 0) + 1
  return self:send({op = "start"})
end

--- The last lines of the session's log that are not INFO noise.
function Server:log_tail(n)
  local text = util.read_file(self.log_path) or ""
  local lines = {}
  for line in text:gmatch("[^\n]+") do
    if not line:find(" INFO ", 1, true) and not line:find(" WARN ", 1, true) and line:match("%S") then
      lines[#lines + 1] = line
    end
  end
  return table.concat(lines, "\n", math.max(1, #lines - (n or 1) + 1))
end

function Server:died(why)
  self.dead = true
  local tail = self:log_tail(1)
  return why .. (tail ~= "" and (": " .. tail) or "")
end

function Server:next(timeout_s)
  if self.dead then return nil, "the Spark session has ended" end
  while true do
    local line, err = self.proc:read_line(timeout_s or 600)
    if not line then
      if err == "timeout" then return nil, ("the Spark session did not answer within %d s"):format(timeout_s or 600) end
      return nil, self:died("the Spark session ended")
    end
    local ev = util.json_decode(line)
    if type(ev) == "table" then
      if ev.event == "ready" and (self.pending_ready or 0) > 0 then
        self.pending_ready = self.pending_ready - 1
        self.ready_seconds = ev.seconds
      else
        return ev
      end
    end
  end
end

function Server:close()
  if self.proc then
    self.proc:close_stdin()
    self.proc:wait(10)
    self.proc:close()
    self.proc = nil
  end
  if self.dir then util.remove_tree(self.dir) self.dir = nil end
  for k, s in pairs(servers) do if s == self then servers[k] = nil end end
end

-- Spawn py/sparkserve.py the way spark.lua starts a job: the allow-listed environment
-- only, the credentials (when the server reads tables) in a 0600 hand-over file the
-- runner takes and deletes before its session starts.
local function spawn(cfg, opts)
  local submit, serr = spark.find_submit(cfg)
  if not submit then return nil, serr end
  local dir, derr = sys.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/sparkgen-spark") -- private: 0700
  if not dir then return nil, derr end
  local jdbc, handoff
  if opts.jdbc then
    local jerr, herr
    jdbc, jerr = spark.jdbc(cfg)
    if not jdbc then util.remove_tree(dir) return nil, jerr end
    handoff, herr = spark.write_handoff(dir, jdbc, opts.remote or cfg.spark.remote or nil)
    if not handoff then util.remove_tree(dir) return nil, herr end
  end
  local paths = require "sparkgen.paths"
  local runner = paths.find("py", "sparkserve.py") or (paths.builtin_root() .. "/py/sparkserve.py")
  local env = spark.environment(cfg, submit, {master = opts.master, handoff = handoff})
  local argv = spark.argv(cfg, submit, "x", {}, {socket = jdbc and jdbc.socket})
  env.SPARKGEN_SPARK_MASTER = opts.master or cfg.spark.master or "local[*]"
  -- Without tables to read the session needs no JDBC driver (and no Ivy resolution).
  env.SPARKGEN_SPARK_PACKAGES = ""
  for i, a in ipairs(argv) do
    if a == "--packages" and jdbc then env.SPARKGEN_SPARK_PACKAGES = argv[i + 1] end
    if a == "--jars" then env.SPARKGEN_SPARK_JARS = argv[i + 1] end
  end
  local log_path = dir .. "/spark.log"
  local p, perr = proc.spawn{argv = {spark.python(cfg, submit), "-u", runner, "--log", log_path},
                             env = env, stdin = "pipe", stdout = "pipe", stderr = "null"}
  if not p then util.remove_tree(dir) return nil, "cannot start the Spark session: " .. tostring(perr) end
  return setmetatable({proc = p, dir = dir, log_path = log_path, jdbc = jdbc ~= nil}, Server)
end

function M.get(cfg, opts)
  opts = opts or {}
  local master = opts.master or cfg.spark.master or "local[*]"
  for _, key in ipairs({master .. "\0jdbc", not opts.jdbc and (master .. "\0plain") or nil}) do
    local s = servers[key]
    if s and not s.dead then return s end
  end
  local s, err = spawn(cfg, {jdbc = opts.jdbc, master = master, remote = opts.remote})
  if not s then return nil, err end
  servers[master .. "\0" .. (opts.jdbc and "jdbc" or "plain")] = s
  return s
end

function M.close_all()
  for _, s in pairs(servers) do s:close() end
end

return M

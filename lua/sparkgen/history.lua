-- history.lua — every generation, recorded in a local SQLite database (like the `llm`
-- CLI's logs): the request, provider, model, prompt, code, findings, checks, tokens,
-- cost, duration, whether it passed, and the job written for it. `sparkgen log` reads
-- it back.
--
-- The database is $XDG_DATA_HOME/sparkgen/history.db (config `history.file`), in WAL
-- mode so readers never block writers, with a busy timeout so concurrent sparkgen
-- processes wait for each other instead of failing, and one transaction per batch of
-- entries (a generate_all call, flushed every FLUSH_EVERY entries). A prompt's part
-- shared by every request over one schema (the system prompt and the schema block,
-- ~10 KB) is stored once per SHA-256 in `prompts`; each generation keeps only its own
-- request text (`prompt_user`).
--
-- Recording is best effort: a history that cannot be written is a warning, never a
-- failed generation. Reading it (`sparkgen log`) reports errors as usual.
local util = require "sparkgen.util"
local log = require "sparkgen.log"
local sys = require "sparkgen.sys"

local M = {}

M.SCHEMA_VERSION = 2
local FLUSH_EVERY = 64
local BUSY_TIMEOUT_MS = 30000
-- The write-ahead log is folded into the database and truncated once it passes this
-- many bytes. A process that opens the database when no other one has it open reads
-- the whole log to rebuild its index, and that recovery also forgets what an earlier
-- process had already checkpointed, so SQLite's own checkpoints (passive, at 1000
-- pages) never let a log written by one-shot processes restart: it grew without
-- bound, and every `sparkgen generate` read all of it (a few ms at 4 MB).
M.WAL_LIMIT = 256 * 1024

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS prompts (
  hash TEXT PRIMARY KEY,          -- sha256 of body
  body TEXT NOT NULL              -- JSON {system, schema_block}; rows of schema 1 add user
);
CREATE TABLE IF NOT EXISTS generations (
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,       -- ISO 8601 UTC with milliseconds
  created_epoch REAL NOT NULL,
  command TEXT,                   -- the sparkgen command that generated (generate, exec, batch, ...)
  source TEXT,
  type TEXT,                      -- the transformation type, or NULL for free text
  text TEXT,                      -- the free-form request, or NULL
  context TEXT,                   -- JSON: the resolved context (the given one on error)
  provider TEXT,
  model TEXT,
  prompt_hash TEXT REFERENCES prompts(hash),
  prompt_user TEXT,               -- the request's own prompt text (NULL in rows of schema 1)
  ok INTEGER NOT NULL,            -- 1: code passed the checks; 0: findings or an error
  error TEXT,                     -- why there is no result
  findings INTEGER NOT NULL DEFAULT 0,
  cached INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER,
  input_tokens INTEGER NOT NULL DEFAULT 0,   -- tokens spent by this generation
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
  cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL,                  -- NULL: price unknown
  duration_s REAL,
  job TEXT,                       -- the job file written for it, if any
  result TEXT                     -- JSON: the whole GeneratedCode result
);
CREATE INDEX IF NOT EXISTS generations_created ON generations(created_epoch);
CREATE INDEX IF NOT EXISTS generations_type ON generations(type);
]]

--- Whether cfg asks for recording (a hand-built cfg without a history section does not).
function M.enabled(cfg)
  return type(cfg) == "table" and type(cfg.history) == "table" and cfg.history.enabled ~= false
    and type(cfg.history.file) == "string" and cfg.history.file ~= ""
end

local handles = {} -- file → open db, one per process

-- Run fn inside BEGIN IMMEDIATE ... COMMIT (the write lock taken up front, so two
-- writers never deadlock upgrading a read lock); rolled back on any failure.
local function transaction(db, fn)
  local ok, err = db:exec("BEGIN IMMEDIATE")
  if not ok then return nil, err end
  local pok, a, b = pcall(fn)
  if pok and a ~= nil then
    local cok, cerr = db:exec("COMMIT")
    if cok then return a, b end
    err = cerr
  else
    err = pok and b or a
  end
  db:exec("ROLLBACK")
  return nil, err
end

local function migrate(db, file)
  local rows, err = db:query("PRAGMA user_version")
  if not rows then return nil, err end
  local version = rows[1] and rows[1].user_version or 0
  if version == M.SCHEMA_VERSION then return true end
  if version > M.SCHEMA_VERSION then
    return nil, ("%s was written by a newer sparkgen (history schema %d, this one knows %d)"):format(
      file, version, M.SCHEMA_VERSION)
  end
  return transaction(db, function()
    -- Schema 1 kept the whole prompt, request text included, in `prompts`.
    if version == 1 then assert(db:exec("ALTER TABLE generations ADD COLUMN prompt_user TEXT")) end
    assert(db:exec(SCHEMA))
    assert(db:exec("PRAGMA user_version = " .. M.SCHEMA_VERSION))
    return true
  end)
end

--- The open history database for cfg: db or nil, message. With `existing`, a missing
--- file is not created (nil, "none": there is no history yet).
function M.open(cfg, existing)
  local file = cfg.history.file
  if handles[file] then return handles[file] end
  if existing and not util.file_exists(file) then return nil, "none" end
  local sqlite = require "sparkgen.sqlite"
  if not existing then
    local ok, merr = sys.mkdir_p(util.dirname(file))
    if not ok then return nil, ("history %s: %s"):format(file, tostring(merr)) end
  end
  -- No checkpoint when this process closes the database: it would cost an fsync per
  -- sparkgen run. The log is kept short instead (Recorder:flush, M.WAL_LIMIT).
  local db, err = sqlite.open(file, {busy_timeout_ms = BUSY_TIMEOUT_MS, checkpoint_on_close = false})
  if not db then return nil, "history " .. err end
  local steps = {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"}
  for _, sql in ipairs(steps) do
    local ok, serr = db:query(sql)
    if not ok then db:close() return nil, ("history %s: %s"):format(file, serr) end
  end
  local ok, merr = migrate(db, file)
  if not ok then db:close() return nil, ("history %s: %s"):format(file, tostring(merr)) end
  handles[file] = db
  return db
end

local function json(v)
  if v == nil then return nil end
  return util.json_encode(v)
end

local function usage_of(u)
  u = u or {}
  local function n(k) return math.tointeger(tonumber(u[k]) or 0) or 0 end
  return n("input_tokens"), n("output_tokens"), n("cache_creation_input_tokens"), n("cache_read_input_tokens")
end

-- What a generation cost: 0 for the template (no model), the model's price table
-- (llm.cost, with the config's own prices) when it knows the model, else nil
-- ("price unknown"). A failed model call still cost its billed attempts.
local function cost_of(cfg, provider, model, usage)
  if provider == "template" then return 0 end
  local llm = package.loaded["sparkgen.llm"]
  if type(llm) == "table" and type(llm.cost) == "function" and type(model) == "string" then
    local ok, c = pcall(llm.cost, model, usage or {}, {cfg = cfg})
    if ok and type(c) == "number" then return c end
  end
  return nil
end

-- The shared part of a prompt: {hash, body}, worked out once per system prompt and
-- schema block (a batch over one schema has one), in a small bounded memo.
local shared_parts, shared_count = {}, 0
local function shared_part(prompt)
  if type(prompt) ~= "table" then return nil end
  local system, block = prompt.system or "", prompt.schema_block or ""
  local by_block = shared_parts[system]
  local part = by_block and by_block[block]
  if part then return part end
  if shared_count >= 16 then shared_parts, shared_count = {}, 0 end
  local body = util.json_encode({system = prompt.system, schema_block = prompt.schema_block})
  part = {hash = require("sparkgen.digest").sha256(body), body = body}
  shared_parts[system] = shared_parts[system] or {}
  shared_parts[system][block], shared_count = part, shared_count + 1
  return part
end

-- Jobs written for results not yet flushed (a batch writes a job as soon as its
-- result is final): result → path, recorded with the row.
local pending_jobs = setmetatable({}, {__mode = "k"})

local Recorder = {}
Recorder.__index = Recorder

--- A recorder for one generate_all call: rec:add(entry) buffers, rec:flush() writes
--- the buffered entries in one transaction and sets result.history_id on each.
--- entry = {request = {source=, type=, context=}, result = GeneratedCode|nil,
---          error = message|nil, usage=, model=, provider= (a failed model call's),
---          prompt = the last model request|nil, duration_s = n}
--- Returns nil when cfg does not record.
function M.recorder(cfg)
  if not M.enabled(cfg) then return nil end
  return setmetatable({cfg = cfg, pending = {}}, Recorder)
end

function Recorder:add(entry)
  self.pending[#self.pending + 1] = entry
  if #self.pending >= FLUSH_EVERY then self:flush() end
end

local INSERT = [[INSERT INTO generations (created_at, created_epoch, command, source, type, text,
  context, provider, model, prompt_hash, ok, error, findings, cached, attempts, input_tokens,
  output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd, duration_s, job, result,
  prompt_user)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23,
  ?24)]]

-- stored: the shared parts this transaction has written already (hash → true).
local function insert(db, cfg, e, command, now, stored)
  local r = e.result
  local req = r and r.request or e.request or {}
  local hash, user
  local part = shared_part(e.prompt)
  if part then
    hash, user = part.hash, e.prompt.user
    if not stored[hash] then
      assert(db:query("INSERT OR IGNORE INTO prompts (hash, body) VALUES (?1, ?2)", hash, part.body))
      stored[hash] = true
    end
  end
  local usage = r and r.usage or e.usage
  local i, o, cw, cr = usage_of(usage)
  local model = (r and r.model) or e.model
  model = type(model) == "string" and model or nil
  local provider = r and r.provider or e.provider
  local text = type(req.text) == "string" and req.text or nil
  local rtype = type(req.type) == "string" and req.type or nil
  if not r and rtype and rtype:find("%s") then text, rtype = rtype, nil end -- free text that never resolved
  assert(db:query(INSERT, util.timestamp(now), now, command, req.source, rtype, text,
    json(req.context), provider, model, hash, (r and r.ok) and 1 or 0,
    e.error and util.redact(tostring(e.error)) or nil, r and #(r.findings or {}) or 0,
    (r and r.cached) and 1 or 0, r and math.tointeger(r.attempts) or nil, i, o, cw, cr,
    r and type(r.cost_usd) == "number" and r.cost_usd or (provider and cost_of(cfg, provider, model, usage)) or nil,
    e.duration_s, r and pending_jobs[r] or nil, r and util.json_encode(r) or nil, user))
  return db:last_insert_rowid()
end

function Recorder:flush()
  local entries = self.pending
  if #entries == 0 then return true end
  self.pending = {}
  local db, err = M.open(self.cfg)
  local ids
  if db then
    local now = sys.now()
    ids, err = transaction(db, function()
      local out, stored = {}, {}
      for k, e in ipairs(entries) do out[k] = insert(db, self.cfg, e, M.command, now, stored) end
      return out
    end)
  end
  if not ids then
    log.warn("history", {status = "not recorded", entries = #entries, error = tostring(err)})
    return nil, err
  end
  for k, e in ipairs(entries) do
    if e.result then e.result.history_id = ids[k] end
  end
  local wal = sys.stat(self.cfg.history.file .. "-wal")
  if wal and wal.size > M.WAL_LIMIT then
    -- Without waiting: when another process is reading, a later flush tries again.
    db:query("PRAGMA busy_timeout = 0")
    local ck, cerr = db:query("PRAGMA wal_checkpoint(TRUNCATE)")
    db:query("PRAGMA busy_timeout = " .. BUSY_TIMEOUT_MS)
    if not ck or (ck[1] and ck[1].busy ~= 0) then
      log.debug("history", {status = "log not truncated", error = ck and "busy" or tostring(cerr)})
    end
  end
  return true
end

--- The command recording generations (set once by the command line).
M.command = nil

--- Note the job written for a result: on its row when it is recorded already, else
--- with the row when the recorder flushes.
function M.set_job(cfg, result, path)
  if not M.enabled(cfg) then return true end
  if not result.history_id then
    pending_jobs[result] = path
    return true
  end
  local db, err = M.open(cfg)
  if db then
    local ok, qerr = db:query("UPDATE generations SET job = ?1 WHERE id = ?2", path, result.history_id)
    if ok then return true end
    err = qerr
  end
  log.warn("history", {status = "job not recorded", id = result.history_id, error = tostring(err)})
  return nil, err
end

-- ------------------------------------------------------------------ reading

--- The columns list() returns, in order.
M.LIST_COLUMNS = {"id", "created_at", "created_epoch", "command", "source", "type", "text", "provider",
  "model", "ok", "error", "findings", "cached", "attempts", "input_tokens", "output_tokens",
  "cache_creation_input_tokens", "cache_read_input_tokens", "cost_usd", "duration_s", "job"}
local LIST_COLUMNS = table.concat(M.LIST_COLUMNS, ", ")

-- Run query(db) on the existing history: its rows, {} when there is none yet, or
-- nil, message.
local function read(cfg, query)
  local db, err = M.open(cfg, true)
  if not db then
    if err == "none" then return {} end
    return nil, err
  end
  return query(db)
end

--- The newest generations first: list(cfg, {since = epoch, type = T, limit = n}) →
--- rows (empty when there is no history yet) or nil, message.
function M.list(cfg, opts)
  opts = opts or {}
  local sql = {"SELECT ", LIST_COLUMNS, " FROM generations WHERE created_epoch >= ?1"}
  if opts.type then sql[#sql + 1] = " AND type = ?2" end
  sql[#sql + 1] = " ORDER BY id DESC"
  if opts.limit and opts.limit > 0 then sql[#sql + 1] = (" LIMIT %d"):format(opts.limit) end
  return read(cfg, function(db)
    if opts.type then return db:query(table.concat(sql), opts.since or 0, opts.type) end
    return db:query(table.concat(sql), opts.since or 0)
  end)
end

--- The distinct types the history has results for (for suggestions).
function M.types(cfg)
  local db = M.open(cfg, true)
  if not db then return {} end
  local out = {}
  for _, r in ipairs(db:query("SELECT DISTINCT type FROM generations WHERE type IS NOT NULL AND error IS NULL ORDER BY type") or {}) do
    out[#out + 1] = r.type
  end
  return out
end

--- One generation with its result and prompt decoded: row or nil, message.
function M.get(cfg, id)
  local db, err = M.open(cfg, true)
  if not db then
    if err == "none" then return nil, ("no generation %s: the history is empty (%s)"):format(tostring(id), cfg.history.file) end
    return nil, err
  end
  local rows, qerr = db:query("SELECT g.*, p.body AS prompt FROM generations g " ..
    "LEFT JOIN prompts p ON p.hash = g.prompt_hash WHERE g.id = ?1", id)
  if not rows then return nil, qerr end
  local row = rows[1]
  if not row then
    local last = db:query("SELECT max(id) AS id FROM generations")
    local max = last and last[1] and last[1].id
    return nil, ("no generation %s in the history (%s)"):format(tostring(id),
      max and ("ids run from 1 to " .. max) or "it is empty")
  end
  for _, k in ipairs({"result", "prompt", "context"}) do
    if row[k] then
      local v, derr = util.json_decode(row[k])
      if v == nil then return nil, ("generation %d: its %s is damaged: %s"):format(row.id, k, tostring(derr)) end
      row[k] = v
    end
  end
  if type(row.prompt) == "table" and row.prompt_user then row.prompt.user = row.prompt_user end
  row.prompt_user = nil
  return row
end

--- The columns stats() returns, in order.
M.STATS_COLUMNS = {"day", "provider", "model", "generations", "ok", "input_tokens", "output_tokens",
  "cache_creation_input_tokens", "cache_read_input_tokens", "cost_usd", "unpriced"}

--- Tokens and cost by day and model: rows {day=, provider=, model=, generations=, ok=,
--- input_tokens=, output_tokens=, cache_creation_input_tokens=, cache_read_input_tokens=,
--- cost_usd=, unpriced=} (unpriced counts generations whose price is unknown).
function M.stats(cfg, opts)
  opts = opts or {}
  return read(cfg, function(db) return db:query([[SELECT substr(created_at, 1, 10) AS day, provider, model,
      count(*) AS generations, sum(ok) AS ok,
      sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
      sum(cache_creation_input_tokens) AS cache_creation_input_tokens,
      sum(cache_read_input_tokens) AS cache_read_input_tokens,
      sum(cost_usd) AS cost_usd,
      sum(CASE WHEN cost_usd IS NULL AND provider IS NOT NULL THEN 1 ELSE 0 END) AS unpriced
    FROM generations WHERE created_epoch >= ?1
    GROUP BY day, provider, model ORDER BY day DESC, provider, model]], opts.since or 0) end)
end

return M

-- history.lua: recording generations in SQLite and reading them back.
local history = require "sparkgen.history"
local sqlite = require "sparkgen.sqlite"
local util = require "sparkgen.util"
local log = require "sparkgen.log"

local function result(overrides)
  local r = {code = "result_df = read_table('orders')\n", ok = true, provider = "anthropic",
             model = "claude-x", cached = false, attempts = 1, findings = util.array({}),
             warnings = util.array({}), validation_checks = util.array({{rule = "non_empty", description = "rows"}}),
             usage = {input_tokens = 100, output_tokens = 20, cache_creation_input_tokens = 5, cache_read_input_tokens = 7},
             request = {source = "orders", type = "revenue_by_category", context = {time_period = "ytd"}}}
  for k, v in pairs(overrides or {}) do r[k] = v end
  return r
end

describe("history", function()
  local dir, cfg
  before_each(function()
    dir = assert(util.tempdir("sparkgen-history-spec"))
    cfg = {history = {enabled = true, file = dir .. "/sub/history.db"}}
  end)
  after_each(function() util.remove_tree(dir) end)

  it("records results and errors in one flush and lists them newest first", function()
    local rec = assert(history.recorder(cfg))
    local ok_result = result()
    rec:add{request = ok_result.request, result = ok_result, duration_s = 0.5,
            prompt = {system = "S", schema_block = "B", user = "U", tool = {}}}
    rec:add{request = {source = "orders", type = "no such type"}, error = "unknown type", duration_s = 0.01}
    assert(rec:flush())
    assert.equal(1, ok_result.history_id)
    local rows = assert(history.list(cfg))
    assert.equal(2, #rows)
    assert.equal(2, rows[1].id)
    assert.equal(0, rows[1].ok)
    assert.equal("unknown type", rows[1].error)
    assert.equal("no such type", rows[1].text) -- free text that never resolved
    assert.equal(1, rows[2].ok)
    assert.equal("claude-x", rows[2].model)
    assert.equal(100, rows[2].input_tokens)
    assert.equal(7, rows[2].cache_read_input_tokens)
  end)

  it("gives back the whole result and the prompt of one generation", function()
    local rec = history.recorder(cfg)
    rec:add{result = result(), prompt = {system = "S", schema_block = "B", user = "U"}}
    rec:flush()
    local g = assert(history.get(cfg, 1))
    assert.equal("result_df = read_table('orders')\n", g.result.code)
    assert.same({system = "S", schema_block = "B", user = "U"}, g.prompt)
    assert.same({time_period = "ytd"}, g.context)
    assert.equal(64, #g.prompt_hash)
  end)

  it("stores a prompt once however many generations used it", function()
    local rec = history.recorder(cfg)
    for _ = 1, 3 do rec:add{result = result(), prompt = {system = "S", schema_block = "B", user = "U"}} end
    rec:flush()
    local db = assert(sqlite.open(cfg.history.file))
    assert.equal(1, db:query("SELECT count(*) AS n FROM prompts")[1].n)
    assert.equal(3, db:query("SELECT count(*) AS n FROM generations")[1].n)
    db:close()
  end)

  it("stores the part a batch's prompts share once, and each request's own text with its row", function()
    local rec = history.recorder(cfg)
    for i = 1, 3 do rec:add{result = result(), prompt = {system = "S", schema_block = "B", user = "U" .. i}} end
    rec:flush()
    local db = assert(sqlite.open(cfg.history.file))
    assert.equal(1, db:query("SELECT count(*) AS n FROM prompts")[1].n)
    db:close()
    for i = 1, 3 do
      assert.same({system = "S", schema_block = "B", user = "U" .. i}, assert(history.get(cfg, i)).prompt)
    end
  end)

  it("reads the whole prompts of a history written by schema 1 after upgrading it", function()
    require("sparkgen.sys").mkdir_p(dir .. "/sub")
    local db = assert(sqlite.open(cfg.history.file))
    assert(db:exec([[
      CREATE TABLE prompts (hash TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE generations (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, created_epoch REAL NOT NULL,
        command TEXT, source TEXT, type TEXT, text TEXT, context TEXT, provider TEXT, model TEXT,
        prompt_hash TEXT REFERENCES prompts(hash), ok INTEGER NOT NULL, error TEXT,
        findings INTEGER NOT NULL DEFAULT 0, cached INTEGER NOT NULL DEFAULT 0, attempts INTEGER,
        input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0, cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL, duration_s REAL, job TEXT, result TEXT);
      INSERT INTO prompts VALUES ('h1', '{"schema_block":"B","system":"S","user":"old"}');
      INSERT INTO generations (created_at, created_epoch, prompt_hash, ok) VALUES ('2026-01-01', 0, 'h1', 1);
      PRAGMA user_version = 1;]]))
    db:close()
    local rec = history.recorder(cfg)
    rec:add{result = result(), prompt = {system = "S", schema_block = "B", user = "new"}}
    assert(rec:flush())
    assert.same({system = "S", schema_block = "B", user = "old"}, assert(history.get(cfg, 1)).prompt)
    assert.same({system = "S", schema_block = "B", user = "new"}, assert(history.get(cfg, 2)).prompt)
  end)

  it("notes the job written for a generation", function()
    local rec = history.recorder(cfg)
    local r = result()
    rec:add{result = r}
    rec:flush()
    assert(history.set_job(cfg, r, "/jobs/x.py"))
    assert.equal("/jobs/x.py", history.list(cfg)[1].job)
  end)

  it("notes a job written before its result was flushed, with the row", function()
    local rec = history.recorder(cfg)
    local r = result()
    rec:add{result = r}
    assert(history.set_job(cfg, r, "/jobs/early.py"))
    rec:flush()
    assert.equal("/jobs/early.py", history.list(cfg)[1].job)
  end)

  it("costs a template generation nothing and leaves an unknown model price null", function()
    local rec = history.recorder(cfg)
    rec:add{result = result({provider = "template", model = util.json_null,
                             usage = {input_tokens = 0, output_tokens = 0}})}
    rec:add{result = result({model = "no-price-model"})}
    rec:flush()
    local rows = history.list(cfg)
    assert.is_nil(rows[1].cost_usd)
    assert.equal(0, rows[2].cost_usd)
  end)

  it("sums tokens by day and model, counting generations without a price", function()
    local rec = history.recorder(cfg)
    rec:add{result = result()}
    rec:add{result = result()}
    rec:add{result = result({provider = "template", model = util.json_null, usage = {}})}
    rec:flush()
    local rows = assert(history.stats(cfg))
    assert.equal(2, #rows)
    local by = {}
    for _, r in ipairs(rows) do by[r.provider] = r end
    assert.equal(2, by.anthropic.generations)
    assert.equal(200, by.anthropic.input_tokens)
    assert.equal(2, by.anthropic.unpriced)
    assert.equal(0, by.template.unpriced)
    assert.equal(os.date("!%Y-%m-%d"), by.template.day)
  end)

  it("filters the list by time and type", function()
    local rec = history.recorder(cfg)
    rec:add{result = result()}
    rec:add{result = result({request = {source = "orders", type = "top_customers"}})}
    rec:flush()
    assert.equal(1, #history.list(cfg, {type = "top_customers"}))
    assert.equal(0, #history.list(cfg, {since = os.time() + 3600}))
    assert.equal(1, #history.list(cfg, {limit = 1}))
  end)

  it("lists nothing, without creating a file, when there is no history yet", function()
    assert.same({}, history.list(cfg))
    assert.is_false(util.file_exists(cfg.history.file))
  end)

  it("refuses a history written by a newer sparkgen, naming the file", function()
    require("sparkgen.sys").mkdir_p(dir .. "/sub")
    local db = assert(sqlite.open(cfg.history.file))
    assert(db:exec("PRAGMA user_version = 99"))
    db:close()
    local rows, err = history.list(cfg)
    assert.is_nil(rows)
    assert.equal(("history %s: %s was written by a newer sparkgen (history schema 99, this one knows %d)"):format(
      cfg.history.file, cfg.history.file, history.SCHEMA_VERSION), err)
  end)

  it("warns instead of failing when the history cannot be written", function()
    require("sparkgen.sys").mkdir_p(dir .. "/sub")
    util.write_file(cfg.history.file, ("junk\n"):rep(200))
    local lines = {}
    log.configure{sink = {write = function(_, ...) lines[#lines + 1] = table.concat({...}) end,
                          flush = function() end}, format = "json"}
    local rec = history.recorder(cfg)
    local r = result()
    rec:add{result = r}
    local ok, err = rec:flush()
    log.configure{sink = io.stderr, format = "auto"}
    assert.is_nil(ok)
    assert.matches("file is not a database", err, 1, true)
    assert.is_nil(r.history_id)
    assert.matches('"status":"not recorded"', table.concat(lines), 1, true)
  end)

  it("keeps the write-ahead log short however many generations are recorded", function()
    -- Each sparkgen process reads the whole log when it opens the history, so the log
    -- must not grow with the history (it did: SQLite's own checkpoints never restart a
    -- log that one-shot processes write).
    local sys = require "sparkgen.sys"
    local largest = 0
    for _ = 1, 40 do
      local rec = history.recorder(cfg)
      rec:add{result = result{code = ("x = 1\n"):rep(4000)}}
      assert(rec:flush())
      local wal = sys.stat(cfg.history.file .. "-wal")
      largest = math.max(largest, wal and wal.size or 0)
    end
    assert.equal(40, #assert(history.list(cfg)))
    assert.is_true(largest <= history.WAL_LIMIT + 64 * 1024, ("the log reached %d bytes"):format(largest))
  end)

  it("records nothing when history.enabled is false or the config has no history", function()
    assert.is_nil(history.recorder({history = {enabled = false, file = cfg.history.file}}))
    assert.is_nil(history.recorder({}))
  end)
end)

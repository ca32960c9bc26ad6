-- analyzer_spec.lua — py/analyze.py as a service (sparkgen.analyzer): one long-lived
-- process answers many pieces of code over JSON lines, in order, without deadlocking
-- on full pipes, without seeing sparkgen's secrets; a dead process fails what it owed
-- with one message and is replaced; a batch lints each answer as it arrives.
local analyzer = require "sparkgen.analyzer"
local config = require "sparkgen.config"
local lint = require "sparkgen.lint"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local TMP = os.getenv("TEST_TMP") or "/tmp"
local HOME = os.getenv("SPARKGEN_HOME") or "."
local SCRIPT = HOME .. "/py/analyze.py"
local python = assert(lint.python())

local function code_reading(name)
  return ('%s = read_table("%s")\nresult_df = %s.select("id")\n'):format(name, name, name)
end

local function fake_script(body)
  local path = ("%s/fake-analyzer-%d-%d.py"):format(TMP, sys.getpid(), math.random(1, 1 << 30))
  assert(util.write_file(path, body))
  return path
end

describe("the analyser service", function()
  it("serves many answers from one process, each to its own caller", function()
    local pool = analyzer.pool(python, SCRIPT, 1)
    local got = {}
    for i = 1, 25 do
      pool:submit(code_reading("t" .. i), function(facts, err)
        assert.is_nil(err)
        got[i] = facts.read_tables[1].name
      end)
    end
    assert.is_true(pool:wait(30))
    for i = 1, 25 do assert.equal("t" .. i, got[i]) end
    local st = pool:stats()
    assert.equal(1, st.started)
    assert.equal(25, st.served)
    pool:close()
  end)

  it("starts a second process only when the first is busy, and no more than its size", function()
    local pool = analyzer.pool(python, SCRIPT, 2)
    assert.truthy(pool:analyze(code_reading("a")))
    assert.truthy(pool:analyze(code_reading("b")))
    assert.equal(1, pool:stats().started) -- one at a time: one process is enough
    local n = 0
    for i = 1, 10 do pool:submit(code_reading("c" .. i), function(f) if f then n = n + 1 end end) end
    pool:wait(30)
    assert.equal(10, n)
    assert.equal(2, pool:stats().started)
    pool:close()
  end)

  it("takes many requests with big replies before any reply is read without deadlocking", function()
    local pool = analyzer.pool(python, SCRIPT, 1)
    -- ~20 KB of code whose facts are ~150 KB: both pipes would fill many times over
    local big = 'result_df = read_table("orders").select(' .. ('F.col("c"), '):rep(1500) .. ')\n'
    local answered = 0
    for _ = 1, 8 do
      pool:submit(big, function(f) if f and #f.columns == 1500 then answered = answered + 1 end end)
    end
    assert.is_true(pool:wait(60))
    assert.equal(8, answered)
    pool:close()
  end)

  it("keeps the analysis of invalid UTF-8 what the one-shot mode says", function()
    local pool = analyzer.pool(python, SCRIPT, 1)
    local facts = assert(pool:analyze("x = '\255'\n"))
    assert.matches("^not UTF%-8", facts.syntax_error.msg)
    pool:close()
  end)

  it("fails what a dead process owed with one message, and replaces it", function()
    local script = fake_script("import sys\nsys.stdin.readline()\nsys.exit(3)\n")
    local pool = analyzer.pool(python, script, 1)
    local facts, err = pool:analyze("result_df = 1\n")
    assert.is_nil(facts)
    assert.matches("the code analyser failed %(exit status 3%)", err)
    assert.is_nil(err:find("\n"))
    pool:analyze("result_df = 1\n")
    assert.equal(2, pool:stats().started)
    pool:close()
    os.remove(script)
  end)

  it("gives the child PATH and a locale, never sparkgen's secrets", function()
    local script = fake_script([[
import json, os, sys
for line in sys.stdin:
    req = json.loads(line)
    print(json.dumps({"id": req["id"], "facts": dict(os.environ)}), flush=True)
]])
    sys.setenv("ANTHROPIC_API_KEY", "sk-ant-must-not-reach-the-analyser")
    sys.setenv("PGPASSWORD", "hunter2")
    local pool = analyzer.pool(python, script, 1)
    local env = assert(pool:analyze("result_df = 1\n"))
    sys.setenv("ANTHROPIC_API_KEY", nil)
    sys.setenv("PGPASSWORD", nil)
    pool:close()
    os.remove(script)
    assert.is_nil(env.ANTHROPIC_API_KEY)
    assert.is_nil(env.PGPASSWORD)
    assert.truthy(env.PATH)
  end)
end)

describe("a batch and the analyser", function()
  it("lints each model answer as it arrives, while the others are still in flight", function()
    local llm = require "sparkgen.llm"
    local generator = require "sparkgen.generator"
    local cfg = assert(config.load{files = {}})
    cfg.schema = HOME .. "/examples/shop/schema.json"
    cfg.cache.dir = ("%s/analyzer-batch-%d-%d"):format(TMP, sys.getpid(), math.random(1, 1 << 30))
    cfg.provider = "anthropic"
    local N = 12
    local submitted_at_done = {}
    local function submitted()
      local n = 0
      for _, p in ipairs(analyzer.pools()) do local st = p:stats(); n = n + st.served + st.outstanding end
      return n
    end
    local base = submitted()
    -- A transport that answers one request at a time and, before each answer, notes how
    -- many answers the analysers have been given so far.
    llm.http = dofile(HOME .. "/tests/lib/fake_model.lua").new{before_answer = function(i)
      submitted_at_done[i] = submitted() - base
    end}
    sys.setenv("ANTHROPIC_API_KEY", "sk-test")
    local reqs = {}
    for i = 1, N do reqs[i] = {source = "orders", type = "orders number " .. i} end
    local finished = {}
    local ok, err = pcall(generator.generate_all, reqs, cfg, {no_cache = true, on_result = function(i, o)
      finished[#finished + 1] = i
      assert.truthy(o.result and o.result.ok, o.error)
    end})
    sys.setenv("ANTHROPIC_API_KEY", nil)
    llm.http = nil
    util.remove_tree(cfg.cache.dir)
    assert(ok, err)
    assert.equal(N, #finished)
    -- answer i reached the analysers before answer i + 1 was handed over
    for i = 1, N do assert.equal(i - 1, submitted_at_done[i]) end
    local started = 0
    for _, p in ipairs(analyzer.pools()) do started = started + p:stats().started end
    assert.truthy(started <= analyzer.cores(), "at most one analyser per core")
  end)
end)

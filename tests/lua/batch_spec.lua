-- batch_spec.lua — a batch's results flow through: generator.generate_all hands each
-- outcome over as soon as it is final and keeps none, sends the requests in bounded
-- windows, and `sparkgen batch` writes rows in input order (or as they complete with
-- --unordered) as a text listing or one JSON document.
local batch = require "sparkgen.commands.batch"
local config = require "sparkgen.config"
local generator = require "sparkgen.generator"
local llm = require "sparkgen.llm"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local TMP = os.getenv("TEST_TMP") or "/tmp"
local HOME = os.getenv("SPARKGEN_HOME") or "."
local fake_model = dofile(HOME .. "/tests/lib/fake_model.lua")

local function sink()
  local s = {parts = {}}
  function s:write(...) for _, p in ipairs({...}) do self.parts[#self.parts + 1] = p end end
  function s:flush() end
  function s:text() return table.concat(self.parts) end
  return s
end

local function row(i)
  return {index = i, source = "orders", type = "t" .. i, status = "failed", error = "e" .. i}
end

describe("the batch writer", function()
  it("writes a row as soon as every row before it is written", function()
    local out = sink()
    local w = batch.writer(out, {})
    w.add(3, row(3))
    assert.equal("", out:text())
    w.add(1, row(1))
    assert.matches("^  1  failed", out:text())
    w.add(2, row(2))
    local lines = {}
    for l in out:text():gmatch("[^\n]+") do lines[#lines + 1] = l:match("^%s*(%d+)") end
    assert.same({"1", "2", "3"}, lines)
  end)

  it("with --unordered writes each row as it comes", function()
    local out = sink()
    local w = batch.writer(out, {unordered = true})
    for _, i in ipairs({3, 1, 2}) do w.add(i, row(i)) end
    local order = {}
    for l in out:text():gmatch("[^\n]+") do order[#order + 1] = l:match("^%s*(%d+)") end
    assert.same({"3", "1", "2"}, order)
  end)

  it("streams one JSON document: the rows, then the summary", function()
    for _, n in ipairs({0, 1, 3}) do
      local out = sink()
      local w = batch.writer(out, {json = true})
      for i = 1, n do w.add(i, row(i)) end
      w.finish({requests = n, ok = 0, failed = n, request_ids = util.array({})})
      local doc = assert(require("cjson.safe").decode(out:text()), out:text())
      assert.equal(n, #doc.results)
      for i = 1, n do assert.equal(i, doc.results[i].index) end
      assert.equal(n, doc.summary.requests)
    end
  end)
end)

describe("generate_all's flow", function()
  local cfg
  before_each(function()
    cfg = assert(config.load{files = {}})
    cfg.schema = HOME .. "/examples/shop/schema.json"
    cfg.cache.dir = ("%s/batch-flow-%d-%d"):format(TMP, sys.getpid(), math.random(1, 1 << 30))
    cfg.provider = "anthropic"
    sys.setenv("ANTHROPIC_API_KEY", "sk-test")
  end)
  after_each(function()
    sys.setenv("ANTHROPIC_API_KEY", nil)
    llm.http = nil
    util.remove_tree(cfg.cache.dir)
  end)

  local function requests(n)
    local reqs = {}
    for i = 1, n do reqs[i] = {source = "orders", type = "orders number " .. i} end
    return reqs
  end

  it("never starts a request more than a window after the oldest one not yet reported", function()
    local delivered, widest = 0, 0
    local fake = fake_model.new{before_answer = function(sent) widest = math.max(widest, sent - delivered) end}
    llm.http = fake
    local seen = {}
    local outcomes = generator.generate_all(requests(25), cfg, {no_cache = true, window = 10,
      on_result = function(i, o)
        assert.truthy(o.result and o.result.ok, o.error)
        seen[i] = (seen[i] or 0) + 1
        delivered = delivered + 1
      end})
    assert.is_nil(outcomes) -- nothing kept: the caller has had every result
    assert.equal(10, widest)
    assert.equal(25, fake.sent)
    for i = 1, 25 do assert.equal(1, seen[i]) end
  end)

  it("without on_result returns every outcome in input order", function()
    llm.http = fake_model.new()
    local outcomes = generator.generate_all(requests(5), cfg, {no_cache = true})
    assert.equal(5, #outcomes)
    for i = 1, 5 do assert.matches(("F.lit%%(%d%%)"):format(i), outcomes[i].result.code) end
  end)
end)

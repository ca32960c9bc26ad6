-- eval.lua without Spark: suite files are checked field by field, and the report table
-- says what failed and why.
local eval = require "sparkgen.eval"
local util = require "sparkgen.util"

local dir
setup(function() dir = assert(util.tempdir("eval-spec")) end)
teardown(function() util.remove_tree(dir) end)

local function suite_file(text)
  local path = dir .. "/suite.lua"
  assert(util.write_file(path, text))
  return path
end

describe("eval.load_suite", function()
  it("merges the suite's source and context into each case", function()
    local s = assert(eval.load_suite(suite_file([[
return {source = "orders", context = {as_of = "2026-11-15"},
        cases = {{name = "a", text = "orders per day", context = {x = 1}, reference_sql = "SELECT 1"}}}]])))
    assert.equal("orders", s.cases[1].source)
    assert.same({as_of = "2026-11-15", x = 1}, s.cases[1].context)
  end)

  it("reads reference_file relative to the suite", function()
    assert(util.write_file(dir .. "/ref.sql", "SELECT 42"))
    local s = assert(eval.load_suite(suite_file([[
return {source = "orders", cases = {{name = "a", type = "daily_sales", reference_file = "ref.sql"}}}]])))
    assert.equal("SELECT 42", s.cases[1].reference_sql)
  end)

  it("names an unknown case field with a suggestion", function()
    local s, err = eval.load_suite(suite_file([[
return {source = "orders", cases = {{name = "a", text = "x", refrence_sql = "SELECT 1"}}}]]))
    assert.is_nil(s)
    assert.matches("case 1 %(a%): unknown field 'refrence_sql' %(did you mean: reference_sql", err)
  end)

  it("requires a reference for every case", function()
    local s, err = eval.load_suite(suite_file([[return {source = "orders", cases = {{name = "a", text = "x"}}}]]))
    assert.is_nil(s)
    assert.matches("needs reference_sql, reference_file or expected_rows", err, 1, true)
  end)

  it("rejects duplicate case names", function()
    local s, err = eval.load_suite(suite_file([[
return {source = "o", cases = {{name = "a", text = "x", reference_sql = "S"}, {name = "a", text = "y", reference_sql = "S"}}}]]))
    assert.is_nil(s)
    assert.matches("duplicate name", err, 1, true)
  end)

  it("loads the shipped shop suite with at least 25 cases and three wrong on purpose", function()
    local s = assert(eval.load_suite(os.getenv("SPARKGEN_HOME") .. "/examples/eval/shop.lua"))
    local wrong = 0
    for _, c in ipairs(s.cases) do if c.expect == "fail" then wrong = wrong + 1 end end
    assert.is_true(#s.cases >= 25)
    assert.equal(3, wrong)
  end)
end)

describe("eval.format", function()
  it("prints one line per case and a summary with the pass rate", function()
    local text = eval.format({cases = {
      {name = "good", status = "pass", rows = 3, seconds = 0.5},
      {name = "fanout", status = "wrong", expect = "fail", reason = "wrong result: expected 3 rows, got 3"},
    }, summary = {cases = 2, passed = 1, pass_rate = 0.5, attempts = 2, repairs = 0, tokens_in = 10,
                  tokens_out = 5, cache_hits = 0, cost_usd = 0, seconds = 1, generate_seconds = 0.1,
                  spark_seconds = 0.9, deliberate_failures = 1, deliberate_failures_caught = 1}})
    assert.matches("good%s+pass%s+3 rows in 0.5 s\n", text)
    assert.matches("fanout%s+wrong%s+%(wrong on purpose%) wrong result: expected 3 rows, got 3\n", text)
    assert.matches("1/2 passed (50.0%)", text, 1, true)
    assert.matches("deliberately wrong answers caught: 1/1", text, 1, true)
  end)
end)

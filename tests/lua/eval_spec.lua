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
    for _, c in ipairs(s.cases) do if c.expect == "wrong" then wrong = wrong + 1 end end
    assert.is_true(#s.cases >= 25)
    assert.equal(3, wrong)
  end)
end)

describe("eval.format", function()
  it("prints one line per case with its verdict and a summary", function()
    local report = require "sparkgen.eval_report"
    local text = eval.format(report.build({name = "t"}, {
      {name = "good", expect = "pass", status = "pass", rows = 3, seconds = 0.5, attempts = 1},
      {name = "fanout", expect = "wrong", status = "wrong", reason = "wrong result: expected 3 rows, got 3", attempts = 1},
    }, {seconds = 1, generate_seconds = 0.1, spark_seconds = 0.9}))
    assert.matches("good%s+pass%s+yes%s+3 rows in 0.5 s\n", text)
    assert.matches("fanout%s+wrong%s+yes%s+known wrong, reported wrong: wrong result: expected 3 rows, got 3\n", text)
    assert.matches("2/2 as expected · 1/2 passed (50.0%)", text, 1, true)
    assert.matches("known-wrong answers reported wrong: 1/1", text, 1, true)
  end)
end)

describe("eval suites are checked field by field", function()
  it("rejects an unknown expect value and suggests the known one", function()
    local s, err = eval.load_suite(suite_file([[
return {source = "orders", cases = {{name = "a", text = "x", expect = "wrnog", reference_sql = "S"}}}]]))
    assert.is_nil(s)
    assert.matches("expect must be pass or wrong, got 'wrnog' (did you mean: wrong", err, 1, true)
  end)
  it("rejects an unknown match value", function()
    local s, err = eval.load_suite(suite_file([[
return {source = "orders", cases = {{name = "a", text = "x", match = "position", reference_sql = "S"}}}]]))
    assert.is_nil(s)
    assert.matches("match must be name or positional, got 'position'", err, 1, true)
  end)
  it("rejects an unknown suite field", function()
    local s, err = eval.load_suite(suite_file([[
return {source = "orders", shema = "x.json", cases = {{name = "a", text = "x", reference_sql = "S"}}}]]))
    assert.is_nil(s)
    assert.matches("unknown field 'shema' (did you mean: schema", err, 1, true)
  end)
  it("resolves the suite's schema relative to the suite file", function()
    assert(util.write_file(dir .. "/snap.json", "{}"))
    local s = assert(eval.load_suite(suite_file([[
return {source = "orders", schema = "snap.json", cases = {{name = "a", text = "x", reference_sql = "S"}}}]])))
    assert.equal(dir .. "/snap.json", s.schema_path)
  end)
end)

describe("eval verdicts", function()
  local report = require "sparkgen.eval_report"
  local command = require "sparkgen.commands.eval"
  local function build(rows)
    return report.build({name = "t"}, rows, {seconds = 1, generate_seconds = 0, spark_seconds = 1})
  end

  it("counts a known-wrong case reported wrong as expected, and the run is good", function()
    local r = build({{name = "good", expect = "pass", status = "pass"},
                     {name = "fanout", expect = "wrong", status = "wrong", reason = "wrong result: x"}})
    assert.equal(2, r.summary.as_expected)
    assert.equal(1, r.summary.passed)
    assert.is_nil(command.verdict(r.summary, 1, false))
  end)
  it("fails the run when a known-wrong case passes, naming it", function()
    local r = build({{name = "good", expect = "pass", status = "pass"},
                     {name = "fanout", expect = "wrong", status = "pass"}})
    assert.matches("1 known-wrong case passed (fanout)", command.verdict(r.summary, 0, true), 1, true)
  end)
  it("fails the run when a normal case fails, unless --min-pass allows it", function()
    local r = build({{name = "a", expect = "pass", status = "pass"}, {name = "b", expect = "pass", status = "runtime"}})
    assert.equal("1 of 2 cases came out as expected (50.0%)", command.verdict(r.summary, 1, false))
    assert.is_nil(command.verdict(r.summary, 0.5, true))
  end)
  it("says on a terminal which case runs, n of N, and the time so far", function()
    assert.equal("eval: case 3/25 top_customers · 12.5 s",
      command.progress_text{phase = "spark", done = 2, total = 25, case = "top_customers", elapsed = 12.5})
    assert.equal("eval: generating 4/25 · 0.3 s", command.progress_text{phase = "generate", done = 4, total = 25, elapsed = 0.3})
  end)
  it("says once that the database has no data instead of a wrong result per case", function()
    local rows = {{name = "a", status = "wrong", expected_rows = 0}, {name = "b", status = "wrong", expected_rows = 0}}
    assert.matches("the database has no data for suite 't': all 2 reference queries returned no rows",
      eval.database_problem(rows, {name = "t"}, 2), 1, true)
    rows[2].expected_rows = 3
    assert.is_nil(eval.database_problem(rows, {name = "t"}, 2))
  end)
end)

describe("eval --compare", function()
  local report = require "sparkgen.eval_report"
  it("lists the cases whose verdict changed, regressions first-class", function()
    local a = report.build({name = "t"}, {{name = "x", expect = "pass", status = "pass"},
      {name = "y", expect = "pass", status = "wrong"}, {name = "z", expect = "pass", status = "pass"}},
      {seconds = 1, generate_seconds = 0, spark_seconds = 1})
    local b = report.build({name = "t"}, {{name = "x", expect = "pass", status = "runtime", reason = "runtime error: boom"},
      {name = "y", expect = "pass", status = "pass"}, {name = "z", expect = "pass", status = "pass"}},
      {seconds = 2, generate_seconds = 0, spark_seconds = 2})
    local cmp = report.compare(a, b)
    assert.equal(1, cmp.regressions)
    assert.equal(1, cmp.improvements)
    assert.same({"x", "y"}, {cmp.changed[1].name, cmp.changed[2].name})
    local text = report.format_compare(cmp, "A.json", "B.json")
    assert.matches("x%s+regression%s+pass%s+runtime%s+runtime error: boom", text)
    assert.matches("y%s+improvement%s+wrong%s+pass", text)
    assert.is_nil(text:find("\nz ", 1, true))
  end)
end)

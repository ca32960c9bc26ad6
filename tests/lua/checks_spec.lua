-- checks_spec.lua — the validation rule library: each built-in rule's sentence and
-- Python, parameter errors, context references, and user rule directories.
local paths = require "sparkgen.paths"
local checks = require "sparkgen.checks"
local util = require "sparkgen.util"
local sys = require "sparkgen.sys"

local HOME = os.getenv("SPARKGEN_HOME")

-- Resolve one spec and render it: description, python (or nil, message).
local function one(spec, context)
  local res, err = checks.resolve({spec}, context)
  if not res then return nil, err end
  return res[1].description, assert(checks.pyspark(res[1])), res[1]
end

describe("checks: built-in rules", function()
  setup(function()
    paths.setup{builtin = HOME, user = {}}
    checks.reset()
  end)

  it("lists every rule the issue asks for, from the built-in root", function()
    local origin = {}
    for _, r in ipairs(checks.list()) do origin[r.name] = r.origin end
    for _, want in ipairs({"accepted_values", "date_range", "non_empty", "not_null", "positive",
                           "required_columns", "row_count_between", "unique"}) do
      assert.equal("built-in", origin[want], "rule " .. want)
    end
  end)

  it("non_empty", function()
    local d, py = one{rule = "non_empty"}
    assert.equal("The result has at least one row.", d)
    assert.equal("(1 if df.limit(1).count() == 0 else 0)", py)
  end)

  it("required_columns counts missing columns from df.columns", function()
    local d, py = one{rule = "required_columns", columns = {"category", "revenue"}}
    assert.equal("The result has the columns category, revenue.", d)
    assert.equal("len([c for c in ['category', 'revenue'] if c not in df.columns])", py)
  end)

  it("not_null ORs the null tests of every column", function()
    local d, py = one{rule = "not_null", columns = {"a", "b"}}
    assert.equal("Columns a and b are never null.", d)
    assert.equal("df.filter(F.col('a').isNull() | F.col('b').isNull()).count()", py)
  end)

  it("positive rejects zero unless allow_zero", function()
    local d, py = one{rule = "positive", column = "revenue"}
    assert.equal("Every value of revenue is greater than zero.", d)
    assert.equal("df.filter(F.col('revenue') <= 0).count()", py)
    d, py = one{rule = "positive", column = "revenue", allow_zero = true}
    assert.equal("Every value of revenue is zero or more.", d)
    assert.equal("df.filter(F.col('revenue') < 0).count()", py)
  end)

  it("unique counts rows beyond the first of each key", function()
    local d, py = one{rule = "unique", columns = {"cohort_month", "months_since_first"}}
    assert.equal("Each combination of cohort_month and months_since_first appears in at most one row.", d)
    assert.equal("df.count() - df.select(F.col('cohort_month'), F.col('months_since_first')).distinct().count()", py)
  end)

  it("accepted_values uses isin with a Python list", function()
    local d, py = one{rule = "accepted_values", column = "status", values = {"Open", "In Progress"}}
    assert.equal("Every value of status is one of: Open, In Progress.", d)
    assert.equal("df.filter(~F.col('status').isin(['Open', 'In Progress'])).count()", py)
  end)

  it("date_range with fixed bounds compares by day", function()
    local d, py = one{rule = "date_range", column = "day", min = "2025-01-01", max = "2026-12-31"}
    assert.equal("Every day lies between 2025-01-01 and 2026-12-31 inclusive.", d)
    assert.equal("df.filter((F.to_date(F.col('day')) < F.lit(date(2025, 1, 1))) | "
      .. "(F.to_date(F.col('day')) > F.lit(date(2026, 12, 31)))).count()", py)
  end)

  it("date_range with a period takes the request's bounds, end made inclusive", function()
    local d, py = one({rule = "date_range", column = "day", period = "$(time_period)", as_of = "$(as_of)"},
                      {time_period = "last_quarter", as_of = "2026-01-15"})
    assert.equal("Every day lies between 2025-10-01 and 2025-12-31 inclusive (last_quarter as of 2026-01-15).", d)
    assert.truthy(py:find("date(2025, 10, 1)", 1, true) and py:find("date(2025, 12, 31)", 1, true))
  end)

  it("date_range over period 'all' has nothing to violate", function()
    local d, py = one{rule = "date_range", column = "day", period = "all", as_of = "2026-01-15"}
    assert.equal("Every day is accepted: period all has no bounds.", d)
    assert.equal("0", py)
  end)

  it("row_count_between yields 0 or 1 from one count", function()
    local d, py = one{rule = "row_count_between", min = 1, max = 10}
    assert.equal("The result has between 1 and 10 rows.", d)
    assert.equal("(lambda n: 0 if 1 <= n and n <= 10 else 1)(df.count())", py)
    d = one{rule = "row_count_between", max = 5}
    assert.equal("The result has at most 5 rows.", d)
  end)

  it("value_between prints numbers as they were written", function()
    local d, py = one{rule = "value_between", column = "rate", min = 0, max = 0.5}
    assert.equal("Every value of rate lies between 0 and 0.5.", d)
    assert.equal("df.filter((F.col('rate') < 0) | (F.col('rate') > 0.5)).count()", py)
  end)

  it("quotes awkward column names instead of splicing them", function()
    local _, py = one{rule = "not_null", columns = {"it's", "a\\b", "x.y"}}
    assert.equal([[df.filter(F.col('it\'s').isNull() | F.col('a\\b').isNull() | F.col('`x.y`').isNull()).count()]], py)
    _, py = one{rule = "accepted_values", column = "s", values = {"'); import os; ('"}}
    assert.equal([[df.filter(~F.col('s').isin(['\'); import os; (\''])).count()]], py)
  end)

  it("accepts a comma-separated string for a list (command line, model JSON)", function()
    local _, _, entry = one{rule = "unique", columns = "a, b"}
    assert.same({"a", "b"}, entry.columns)
  end)

  it("keeps parameters and the sentence in the resolved entry", function()
    local res = assert(checks.resolve({{rule = "positive", column = "revenue"}}))
    assert.same({{rule = "positive", column = "revenue", allow_zero = false,
                  description = "Every value of revenue is greater than zero."}}, res)
  end)
end)

describe("checks: errors", function()
  setup(function()
    paths.setup{builtin = HOME, user = {}}
    checks.reset()
  end)

  it("names an unknown rule with the closest ones", function()
    local res, err = checks.resolve({{rule = "not_nul", columns = {"a"}}})
    assert.is_nil(res)
    assert.matches("check 1: unknown rule 'not_nul' (did you mean: not_null?)", err, 1, true)
  end)

  it("rejects an unknown parameter and lists the allowed ones", function()
    local _, err = checks.resolve({{rule = "not_null", column = "a"}})
    assert.matches("rule 'not_null' has no parameter 'column' (did you mean: columns?); allowed: columns", err, 1, true)
  end)

  it("reports a missing required parameter", function()
    local _, err = checks.resolve({{rule = "accepted_values", column = "s"}})
    assert.matches("rule 'accepted_values' needs parameter 'values'", err, 1, true)
  end)

  it("rejects a bad value: wrong type, empty list, bad date, below min", function()
    local _, err = checks.resolve({{rule = "row_count_between", max = "ten"}})
    assert.matches("parameter 'max' must be an integer, got 'ten'", err, 1, true)
    _, err = checks.resolve({{rule = "not_null", columns = {}}})
    assert.matches("parameter 'columns' must be a non-empty list of strings", err, 1, true)
    _, err = checks.resolve({{rule = "date_range", column = "d", min = "2026-02-30"}})
    assert.matches("parameter 'min' must be a date YYYY-MM-DD, got '2026-02-30'", err, 1, true)
    _, err = checks.resolve({{rule = "row_count_between", min = -1}})
    assert.matches("parameter 'min' must be >= 0, got -1", err, 1, true)
  end)

  it("rejects contradictory bounds", function()
    local _, err = checks.resolve({{rule = "row_count_between", min = 5, max = 1}})
    assert.matches("min 5 is greater than max 1", err, 1, true)
  end)

  it("says which context value a check refers to when the request lacks it", function()
    local _, err = checks.resolve({{rule = "row_count_between", max = "$(limit)"}}, {time_period = "all"})
    assert.matches("parameter 'max' refers to 'limit', which the request's context does not have", err, 1, true)
  end)

  it("leaves out checks that need a context when none is given yet", function()
    local res = assert(checks.resolve({{rule = "non_empty"}, {rule = "row_count_between", max = "$(limit)"}}))
    assert.equal(1, #res)
    assert.equal("non_empty", res[1].rule)
  end)

  it("checks a resolved entry again before rendering it", function()
    local py, err = checks.pyspark({rule = "positive", column = {"not", "a", "string"}})
    assert.is_nil(py)
    assert.matches("parameter 'column' must be a non-empty string", err, 1, true)
  end)
end)

describe("checks: period bounds match templates/job.py", function()
  local cases = {
    {"last_7_days", "2026-03-03", "2026-02-24", "2026-03-03"},
    {"last_30_days", "2026-03-01", "2026-01-30", "2026-03-01"},
    {"last_month", "2026-01-15", "2025-12-01", "2026-01-01"},
    {"last_quarter", "2026-02-10", "2025-10-01", "2026-01-01"},
    {"last_quarter", "2026-11-20", "2026-07-01", "2026-10-01"},
    {"month_to_date", "2024-02-29", "2024-02-01", "2024-03-01"},
    {"ytd", "2026-12-31", "2026-01-01", "2027-01-01"},
  }
  for _, c in ipairs(cases) do
    it(("%s as of %s"):format(c[1], c[2]), function()
      local s, e = checks.period_bounds(c[1], c[2])
      assert.same({c[3], c[4]}, {s, e})
    end)
  end
  it("has no bounds for 'all'", function()
    assert.same({}, {checks.period_bounds("all", "2026-01-01")})
  end)
end)

describe("checks: user rule directories", function()
  local dir
  before_each(function()
    dir = assert(util.tempdir("checks-spec"))
    assert(sys.mkdir_p(dir .. "/rules"))
    paths.setup{builtin = HOME, user = {dir}}
    checks.reset()
  end)
  after_each(function()
    util.remove_tree(dir)
    paths.setup{builtin = HOME, user = {}}
    checks.reset()
  end)

  local function write(name, text)
    assert(util.write_file(dir .. "/rules/" .. name .. ".lua", text))
  end

  it("adds a team's rule dropped into <root>/rules", function()
    write("max_length", [[
return {
  name = "max_length",
  summary = "Strings are at most n characters long",
  params = {column = {type = "string", required = true}, n = {type = "integer", min = 1, required = true}},
  describe = function(p) return ("Every %s is at most %d characters."):format(p.column, p.n) end,
  pyspark = function(p, py) return ("df.filter(F.length(%s) > %d).count()"):format(py.col(p.column), p.n) end,
}
]])
    local d, py = one{rule = "max_length", column = "name", n = 40}
    assert.equal("Every name is at most 40 characters.", d)
    assert.equal("df.filter(F.length(F.col('name')) > 40).count()", py)
    local origin
    for _, r in ipairs(checks.list()) do if r.name == "max_length" then origin = r.origin end end
    assert.equal(dir, origin)
  end)

  it("lets a team's rule shadow a built-in one", function()
    write("non_empty", [[
return {
  name = "non_empty", summary = "At least three rows", params = {},
  describe = function() return "The result has at least three rows." end,
  pyspark = function() return "(1 if df.count() < 3 else 0)" end,
}
]])
    local d, py = one{rule = "non_empty"}
    assert.equal("The result has at least three rows.", d)
    assert.equal("(1 if df.count() < 3 else 0)", py)
  end)

  it("reports a broken rule file with file:line, field and expectation", function()
    write("bad_rule", "return {\n  name = \"bad_rule\",\n  summary = \"x\",\n  describe = \"not a function\",\n"
      .. "  pyspark = function() return '0' end,\n}\n")
    local _, err = checks.resolve({{rule = "bad_rule"}})
    assert.matches(dir .. "/rules/bad_rule.lua:4: field 'describe': expected a function", err, 1, true)
  end)

  it("fails loading in strict mode when a rule file is broken", function()
    write("typo", "return {name = 'typo', summary = 'x', params = {a = {type = 'lst'}},\n"
      .. "describe = function() return 'x' end, pyspark = function() return '0' end}\n")
    local reg, err = checks.load_all{strict = true, reload = true}
    assert.is_nil(reg)
    assert.matches("typo.lua:1: field 'params.a.type': expected string, list, integer", err, 1, true)
  end)

  it("turns an error inside a rule's function into a message naming the file", function()
    write("crash", [[
return {
  name = "crash", summary = "x", params = {},
  describe = function() return "never" end,
  pyspark = function() return nil .. "x" end,
}
]])
    local res = assert(checks.resolve({{rule = "crash"}}))
    local py, err = checks.pyspark(res[1])
    assert.is_nil(py)
    assert.matches("rule 'crash' (" .. dir .. "/rules/crash.lua): pyspark failed", err, 1, true)
  end)
end)

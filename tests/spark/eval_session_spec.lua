-- tests/spark/eval_session_spec.lua — eval's verdicts and the checks that run in one
-- long-lived Spark session (sparkserver.lua), against the example shop database.
-- Run by tests/spark/run.sh: SPARKGEN_TEST_DB names the database, SPARKGEN_PATH the
-- test root with the fixture types (tests/spark/root).
local config = require "sparkgen.config"
local eval = require "sparkgen.eval"

local HOME = os.getenv("SPARKGEN_HOME") or "."
local DB = assert(os.getenv("SPARKGEN_TEST_DB"), "SPARKGEN_TEST_DB is not set")

local function cfg_for(extra)
  local flags = {db = DB, schema = HOME .. "/examples/shop/schema.json", cache = {enabled = false}}
  for k, v in pairs(extra or {}) do flags[k] = v end
  local cfg = assert(config.load{flags = flags, files = {os.getenv("SPARKGEN_TEST_CONFIG")}})
  return cfg
end

describe("eval on Spark: the blind spots", function()
  local report
  setup(function()
    local suite = assert(eval.load_suite(HOME .. "/tests/spark/eval_blind_spots.lua"))
    report = assert(eval.run(suite, cfg_for()))
  end)
  local function case(name)
    for _, row in ipairs(report.cases) do if row.name == name then return row end end
    error("no case " .. name)
  end

  it("judges a body that asks for current_date() at the case's as_of", function()
    local row = case("clock_pinned_to_as_of")
    assert.equal("pass", row.status, row.reason)
  end)
  it("counts a date equal to the same day's midnight timestamp", function()
    local row = case("date_equals_midnight_timestamp")
    assert.equal("pass", row.status, row.reason)
  end)
  it("fails two numeric columns swapped when the reference names them", function()
    local row = case("swapped_numeric_columns")
    assert.equal("wrong", row.status, row.reason)
    assert.is_true(row.as_expected)
  end)
  it("matches columns by their values only when the case asks for match = positional", function()
    local row = case("swapped_columns_positional")
    assert.equal("pass", row.status, row.reason)
  end)
  it("reports a known-wrong case that passes as not expected, and the run as failed", function()
    local row = case("known_wrong_but_right")
    assert.equal("pass", row.status, row.reason)
    assert.is_false(row.as_expected)
    assert.same({"known_wrong_but_right"}, report.summary.known_wrong_passed)
    assert.matches("known_wrong_but_right", require("sparkgen.commands.eval").verdict(report.summary, 1, false), 1, true)
  end)
end)

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

-- The scripted model for the specs below: one mock server per describe block.
package.path = HOME .. "/tests/mock/?.lua;" .. package.path
local generator = require "sparkgen.generator"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"
local mock

local function with_mock()
  setup(function()
    mock = require("mock").start{}
    sys.setenv("ANTHROPIC_API_KEY", "sk-test-scripted")
  end)
  teardown(function()
    sys.setenv("ANTHROPIC_API_KEY", nil)
    if mock then mock.stop() end
  end)
  before_each(function() mock.reset() end)
end

local function model_cfg(cfg)
  cfg.anthropic.base_url = mock.url
  cfg.http.retries = 0
  return cfg
end

-- An emit_code answer reading `tables`.
local function answer(code, tables)
  return {reply = {code = code, description = "Scripted answer.", tables_used = tables or {"orders"},
                   estimated_complexity = "low", validation_checks = {}}}
end

describe("the plan check on Spark (no data read)", function()
  with_mock()
  -- No database at all: the snapshot only, so nothing could be read even by mistake.
  local function plan_cfg()
    return model_cfg(assert(config.load{files = {}, flags = {schema = HOME .. "/examples/shop/schema.json",
      cache = {enabled = false}, plan_check = "on", provider = "anthropic"}}))
  end
  local GOOD = [[
orders = read_table("orders")
result_df = orders.groupBy("customer_id").agg(F.sum("total_amount").alias("revenue"))
]]
  local UNKNOWN_COLUMN = [[
orders = read_table("orders")
ids = orders.select("order_id", "total_amount")
result_df = ids.groupBy("customer_id").agg(F.sum("total_amount").alias("revenue"))
]]
  local TYPE_MISMATCH = [[
orders = read_table("orders")
result_df = orders.groupBy("customer_id").agg(F.max(F.col("order_date") - F.col("total_amount")).alias("revenue"))
]]
  local function repair_text()
    local seen = mock.requests()
    return util.json_encode(seen[#seen].body)
  end

  it("catches a column lost in a projection (UNRESOLVED_COLUMN) and the repair fixes it", function()
    mock.script{answer(UNKNOWN_COLUMN), answer(GOOD)}
    local r = assert(generator.generate({source = "orders", type = "revenue per customer"}, plan_cfg()))
    assert.is_true(r.ok, util.json_encode(r.findings))
    assert.equal(2, r.attempts)
    assert.same({status = "passed", checks = 2, rejections = 1},
                {status = r.plan_check.status, checks = r.plan_check.checks, rejections = r.plan_check.rejections})
    assert.same({"lint", "plan"}, r.checked)
    local sent = repair_text()
    assert.matches("UNRESOLVED_COLUMN", sent, 1, true)
    assert.matches("customer_id", sent, 1, true)
  end)

  it("catches a type mismatch (DATATYPE_MISMATCH) and the repair fixes it", function()
    mock.script{answer(TYPE_MISMATCH), answer(GOOD)}
    local r = assert(generator.generate({source = "orders", type = "revenue per customer"}, plan_cfg()))
    assert.is_true(r.ok, util.json_encode(r.findings))
    assert.equal(1, r.plan_check.rejections)
    assert.matches("DATATYPE_MISMATCH", repair_text(), 1, true)
  end)

  it("rejects the code when the repairs run out, with Spark's error class and the body's line", function()
    mock.script{answer(UNKNOWN_COLUMN), answer(UNKNOWN_COLUMN), answer(UNKNOWN_COLUMN)}
    local cfg = plan_cfg()
    cfg.max_repairs = 1
    local r = assert(generator.generate({source = "orders", type = "revenue per customer"}, cfg))
    assert.is_false(r.ok)
    local f = r.findings[1]
    assert.equal("spark-analysis", f.id)
    assert.matches("^UNRESOLVED_COLUMN", f.error_class)
    assert.equal(3, f.line)
    assert.equal("rejected", r.plan_check.status)
  end)

  it("resolves result_df with the exact Spark types of the snapshot's columns", function()
    mock.script{answer([[
orders = read_table("orders")
result_df = orders.select("order_id", "order_date", "total_amount", (F.col("total_amount") * 2).alias("twice"))
]])}
    local r = assert(generator.generate({source = "orders", type = "orders with twice the amount"}, plan_cfg()))
    assert.is_true(r.ok, util.json_encode(r.findings))
    assert.same({{"order_id", "int"}, {"order_date", "timestamp"}, {"total_amount", "decimal(10,2)"},
                 {"twice", "decimal(12,2)"}}, r.plan_check.columns)
  end)

  it("does not mistake a self-join of one table for an ambiguous reference", function()
    mock.script{answer([[
later = read_table("orders")
earlier = read_table("orders")
pairs = later.join(earlier, (later["customer_id"] == earlier["customer_id"]) & (later["order_id"] > earlier["order_id"]))
result_df = pairs.groupBy(later["customer_id"]).agg(F.count("*").alias("revenue"))
]])}
    local r = assert(generator.generate({source = "orders", type = "revenue per customer"}, plan_cfg()))
    assert.is_true(r.ok, util.json_encode(r.findings))
    assert.equal("passed", r.plan_check.status)
  end)

  it("costs well under a second once the session is warm", function()
    mock.script{answer(GOOD)}
    local r = assert(generator.generate({source = "orders", type = "revenue per customer"}, plan_cfg()))
    assert.is_true(r.plan_check.seconds < 1, tostring(r.plan_check.seconds))
  end)
end)

describe("--candidates: agreement on a sample of the real tables", function()
  with_mock()
  local function cand_cfg()
    return model_cfg(cfg_for{provider = "anthropic", candidates = 5, sample_rows = 500})
  end
  local TABLES = {"orders", "order_items", "products"}
  local HEAD = [[
items = read_table("order_items")
products = read_table("products").select("product_id", "category")
orders = read_table("orders").select("order_id")
]]
  -- Three correct answers written three ways: the same rows.
  local RIGHT_1 = HEAD .. [[
lines = items.join(orders, "order_id").join(products, "product_id")
result_df = lines.groupBy("category").agg(
    F.sum(F.col("quantity") * F.col("unit_price")).alias("revenue"),
    F.countDistinct("order_id").alias("order_count"), F.sum("quantity").alias("units"))
]]
  local RIGHT_2 = HEAD .. [[
lines = items.withColumn("amount", F.col("quantity") * F.col("unit_price")).join(orders, on="order_id", how="inner")
per = lines.join(products, on="product_id", how="inner")
result_df = per.groupBy("category").agg(F.sum("amount").alias("revenue"), F.sum("quantity").alias("units"),
                                        F.count_distinct("order_id").alias("order_count"))
]]
  local RIGHT_3 = HEAD .. [[
lines = products.join(items, "product_id").join(orders, "order_id")
result_df = (lines.groupBy("category")
             .agg(F.sum(F.col("unit_price") * F.col("quantity")).alias("revenue"),
                  F.size(F.collect_set("order_id")).alias("order_count"),
                  F.sum("quantity").alias("units"))
             .select("category", "revenue", "order_count", "units"))
]]
  -- Two different wrong ones: lines counted as orders; revenue without the quantity.
  local WRONG_1 = HEAD .. [[
lines = items.join(orders, "order_id").join(products, "product_id")
result_df = lines.groupBy("category").agg(
    F.sum(F.col("quantity") * F.col("unit_price")).alias("revenue"),
    F.count("order_id").alias("order_count"), F.sum("quantity").alias("units"))
]]
  local WRONG_2 = HEAD .. [[
lines = items.join(orders, "order_id").join(products, "product_id")
result_df = lines.groupBy("category").agg(
    F.sum("unit_price").alias("revenue"),
    F.countDistinct("order_id").alias("order_count"), F.sum("quantity").alias("units"))
]]
  -- Agreeing, but the revenue comes out negative: fails the type's positive check.
  local NEGATIVE = HEAD .. [[
lines = items.join(orders, "order_id").join(products, "product_id")
result_df = lines.groupBy("category").agg(
    (-F.sum(F.col("quantity") * F.col("unit_price"))).alias("revenue"),
    F.countDistinct("order_id").alias("order_count"), F.sum("quantity").alias("units"))
]]
  local REQUEST = {source = "orders", type = "revenue_by_category", context = {time_period = "all", as_of = "2026-11-15"}}
  local function is_one_of(code, list)
    for _, c in ipairs(list) do if code == c then return true end end
    return false
  end

  it("returns the answer three of five agree on, with tokens summed over all five", function()
    mock.script{answer(WRONG_1, TABLES), answer(RIGHT_1, TABLES), answer(WRONG_2, TABLES), answer(RIGHT_2, TABLES),
                 answer(RIGHT_3, TABLES)}
    local r = assert(generator.generate(REQUEST, cand_cfg()))
    assert.is_true(r.ok, util.json_encode(r.findings))
    assert.is_true(is_one_of(r.code, {RIGHT_1, RIGHT_2, RIGHT_3}), r.code)
    assert.same({total = 5, survivors = 5, agreeing = 3, checks_passed = true},
                {total = r.candidates.total, survivors = r.candidates.survivors, agreeing = r.candidates.agreeing,
                 checks_passed = r.candidates.checks_passed})
    assert.equal(3, #r.candidates.groups)
    assert.equal(5, #mock.requests())
    assert.equal(5, #r.request_ids)
    assert.is_true(r.usage.output_tokens > 0)
  end)

  it("picks the checked minority when the majority's rows fail the type's checks", function()
    mock.script{answer(NEGATIVE, TABLES), answer(RIGHT_1, TABLES), answer(NEGATIVE, TABLES), answer(RIGHT_2, TABLES),
                 answer(NEGATIVE, TABLES)}
    local r = assert(generator.generate(REQUEST, cand_cfg()))
    assert.is_true(is_one_of(r.code, {RIGHT_1, RIGHT_2}), util.json_encode(r.candidates))
    assert.equal(2, r.candidates.agreeing)
    assert.is_true(r.candidates.checks_passed)
    local majority
    for _, g in ipairs(r.candidates.groups) do if g.size == 3 then majority = g end end
    assert.is_false(majority.passed_checks)
    assert.same({"positive(revenue)"}, majority.failed_checks)
  end)
end)

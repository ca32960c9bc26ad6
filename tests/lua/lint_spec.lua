-- lint_spec.lua — the static checks of generated code: the corpus (every bad body
-- produces exactly its expected finding, every good body produces none), the policy
-- overrides, job files, the missing-python fallback, and the model-claims warnings.
local lint = require "sparkgen.lint"
local util = require "sparkgen.util"
local sys = require "sparkgen.sys"

local ROOT = os.getenv("SPARKGEN_HOME") or "."
local CORPUS = ROOT .. "/tests/lint_corpus"

-- The example shop schema, plus one awkward table whose identifiers need quoting
-- (spaces, mixed case), the way a real PostgreSQL catalog can have them.
local function shop_schema()
  local snap = assert(util.json_decode(assert(util.read_file(ROOT .. "/examples/shop/schema.json"))))
  snap.tables[#snap.tables + 1] = {schema = "public", name = "Gift Cards", kind = "table",
    columns = {{name = "Card ID"}, {name = "IssuedAt"}, {name = "Amount EUR"}}}
  return snap
end

-- A Schema-object-shaped wrapper (S:table, S:tables), as schema.lua provides.
local function schema_object(snap)
  local S = {}
  function S:table(name)
    for _, t in ipairs(snap.tables) do
      if t.name == name or (t.schema .. "." .. t.name) == name then return t end
    end
    return nil, "unknown table " .. name
  end
  function S:tables() return snap.tables end
  return S
end

local SCHEMA = schema_object(shop_schema())

local function corpus(kind)
  local out = {}
  for _, name in ipairs(assert(sys.listdir(CORPUS .. "/" .. kind))) do
    if name:match("%.py$") then out[#out + 1] = name end
  end
  assert(#out > 0, "empty corpus " .. kind)
  return out
end

-- "# expect: unknown-column line=4 suggest=total_amount message="..."" — more than one
-- finding joined with " + ": "# expect: forbidden-call line=4 + sql-unreadable line=4"
local function expectation(code)
  local spec = assert(code:match("^# expect: ([^\n]+)"), "bad corpus file: no '# expect:' first line")
  local all = {}
  for part in (spec .. " + "):gmatch("(.-) %+ ") do
    all[#all + 1] = part:match("^([%w-]+)") .. "@" .. tostring(tonumber(part:match("line=(%d+)")))
  end
  return {
    id = spec:match("^([%w-]+)"),
    line = tonumber(spec:match("line=(%d+)")),
    suggest = spec:match("suggest=([%w_]+)"),
    message = spec:match('message="([^"]+)"'),
    all = all,
  }
end

-- The corpora also cover the spark.sql rules, which apply to teams whose job gives a
-- body the session: they are judged with allow_names = {"spark"} (without it, `spark`
-- is an unknown name; see "lint policy").
local SPARK_POLICY = {allow_names = {"spark"}}

local function check(code, opts)
  opts = opts or {}
  local report, err = lint.check(code, {schema = opts.schema or SCHEMA, policy = opts.policy or SPARK_POLICY,
                                        python = opts.python})
  assert(report, err)
  return report
end

local function ids(report)
  local out = {}
  for _, f in ipairs(report.findings) do out[#out + 1] = ("%s@%s"):format(f.id, tostring(f.line)) end
  return out
end

for _, kind in ipairs({"bad", "escape"}) do
describe("lint corpus: " .. kind .. " bodies", function()
  for _, name in ipairs(corpus(kind)) do
    it(name .. " produces exactly its expected finding", function()
      local code = assert(util.read_file(CORPUS .. "/" .. kind .. "/" .. name))
      local want = expectation(code)
      local report = check(code)
      assert.same(want.all, ids(report))
      local f = report.findings[1]
      assert.equal(lint.SEVERITY[want.id] == "error", not report.ok)
      if want.suggest then assert.truthy(util.json_encode(f.suggestions):find(want.suggest, 1, true), f.message) end
      if want.message then assert.truthy(f.message:find(want.message, 1, true), f.message) end
    end)
  end
end)
end

describe("lint corpus: good bodies", function()
  for _, name in ipairs(corpus("good")) do
    it(name .. " passes with no findings", function()
      local code = assert(util.read_file(CORPUS .. "/good/" .. name))
      local report = check(code)
      assert.same({}, ids(report))
      assert.is_true(report.ok)
    end)
  end
end)

describe("lint facts computed from the code", function()
  it("lists the tables read, in order, by their resolved names", function()
    local report = check('a = read_table("public.orders")\nb = read_table("customers")\nresult_df = a.join(b, "customer_id", "inner")\n')
    assert.same({"orders", "customers"}, report.tables_used)
  end)
  it("reports an unknown table once, not again for every column read from it", function()
    local code = 'o = read_table("ordres")\nc = read_table("customers")\nresult_df = o.join(c, "customer_id", "inner").select(o.total_amount, "name")\n'
    assert.same({"unknown-table@1"}, ids(check(code)))
  end)
  it("says a table name is ambiguous rather than unknown", function()
    local snap = shop_schema()
    snap.tables[#snap.tables + 1] = {schema = "archive", name = "events", columns = {{name = "id"}}}
    snap.tables[#snap.tables + 1] = {schema = "audit", name = "events", columns = {{name = "id"}}}
    local S = schema_object(snap)
    function S:table(name)
      if name == "events" then return nil, "table name 'events' is ambiguous: archive.events, audit.events (use schema.name)" end
      return schema_object(snap):table(name)
    end
    local report = check('result_df = read_table("events")\n', {schema = S})
    assert.same({"unknown-table@1"}, ids(report))
    assert.truthy(report.findings[1].message:find("ambiguous", 1, true))
    assert.same({"audit.events"}, check('result_df = read_table("audit.events")\n', {schema = S}).tables_used)
  end)
  it("rates a plain filter low and a multi-join aggregation with windows high", function()
    assert.equal("low", check('result_df = read_table("orders").filter("total_amount > 0")\n').complexity)
    local code = assert(util.read_file(CORPUS .. "/good/revenue_by_category.py"))
    assert.equal("medium", check(code).complexity)
    local heavy = [[
o = read_table("orders")
i = read_table("order_items")
p = read_table("products")
c = read_table("customers")
w = Window.partitionBy("customer_id").orderBy("order_date")
x = o.join(i, "order_id", "inner").join(p, "product_id", "inner").join(c, "customer_id", "inner")
result_df = x.withColumn("n", F.row_number().over(w)).groupBy("category").agg(F.sum("quantity").alias("q"))
]]
    assert.equal("high", check(heavy).complexity)
  end)
  it("points a finding in a multi-line chain at the line of the offending call", function()
    local code = 'o = read_table("orders")\nresult_df = (o\n    .filter("total_amount > 0")\n    .crossJoin(o))\n'
    assert.same({"cross-join@4"}, ids(check(code)))
  end)
end)

describe("lint of a rendered job file", function()
  local job = [[
import os
from pyspark.sql import SparkSession, functions as F

spark = SparkSession.builder.getOrCreate()

def read_table(name):
    return (spark.read.format("jdbc").option("url", os.environ["SPARKGEN_JDBC_URL"])
            .option("dbtable", name).load())

def transform(read_table, params):
    orders = read_table("orders")
    result_df = orders.groupBy("customer_id").agg(F.sum("totl_amount").alias("spent"))
    return result_df

if __name__ == "__main__":
    transform(read_table, {}).show()
]]
  it("judges only the transform body, with the file's line numbers", function()
    local report = check(job)
    assert.equal("job", report.facts.mode)
    assert.same({"unknown-column@12"}, ids(report))
  end)
  it("still applies the policy inside transform", function()
    local bad = job:gsub('    return result_df', '    os.system("rm -rf /")\n    return result_df')
    local report = check(bad)
    assert.same({"unknown-column@12", "forbidden-call@13"}, ids(report))
  end)
end)

describe("lint policy", function()
  it("refuses `spark` by default: the job does not give a body the session", function()
    local report = assert(lint.check('result_df = spark.sql("SELECT 1")\n', {schema = SCHEMA}))
    assert.same({"unknown-name@1"}, ids(report))
    assert.truthy(report.findings[1].message:find("does not give a body the session", 1, true))
  end)
  it("refuses a name the job does not give a body, naming the closest one", function()
    local report = check('o = read_table("orders")\nresult_df = o.filter(F.col("order_date") > parms["as_of"])\n')
    assert.same({"unknown-name@2"}, ids(report))
    assert.equal("params", report.findings[1].suggestions[1])
  end)
  it("rejects an import outside the allow-list by default", function()
    assert.same({"forbidden-import@1"}, ids(check('import numpy as np\nresult_df = read_table("orders")\n')))
  end)
  it("allows an import the team adds with allow_imports", function()
    local report = check('import numpy as np\nresult_df = read_table("orders")\n', {policy = {allow_imports = {"numpy"}}})
    assert.same({}, ids(report))
  end)
  it("makes a warning an error when the team lists it under errors", function()
    local code = 'c = read_table("customers")\nresult_df = c.crossJoin(read_table("products"))\n'
    assert.is_true(check(code).ok)
    local strict = check(code, {policy = {errors = {"cross-join"}}})
    assert.is_false(strict.ok)
    assert.equal("error", strict.findings[1].severity)
  end)
  it("drops ignored finding ids", function()
    local code = 'c = read_table("customers")\nrows = c.collect()\nresult_df = c\n'
    assert.same({}, ids(check(code, {policy = {ignore = {"collect-unaggregated"}}})))
  end)
  it("refuses an unknown policy key, naming the closest one", function()
    local report, err = lint.check("result_df = 1\n", {schema = SCHEMA, policy = {allow_import = {"numpy"}}})
    assert.is_nil(report)
    assert.truthy(err:find("allow_imports", 1, true))
  end)
end)

describe("lint and prompt injection", function()
  it("rejects whatever DROP TABLE the model was talked into, however it is spelled", function()
    for _, sql in ipairs({"DROP TABLE orders", "  drop table orders", "/* hi */ DROP TABLE orders",
                          "SELECT 1; DROP TABLE orders", "(DROP TABLE orders)",
                          "WITH x AS (SELECT 1) DELETE FROM orders",
                          "SELECT '--' ; DROP TABLE orders", "SELECT 1 /* ' */; DROP TABLE orders"}) do
      local code = ('spark.sql(%q)\nresult_df = read_table("orders")\n'):format(sql)
      local report = check(code)
      assert.is_false(report.ok, sql)
      assert.equal("sql-not-select", report.findings[1].id, sql)
    end
  end)
  it("does not mistake a keyword inside a string literal for a statement", function()
    local code = [[
read_table("support_tickets").createOrReplaceTempView("t")
result_df = spark.sql("SELECT ticket_id FROM t WHERE description LIKE '%drop table%'")
]]
    assert.same({}, ids(check(code)))
  end)
end)

describe("lint without python3", function()
  it("warns that it skipped the python checks and still checks table names", function()
    local report = check('x = read_table("ordres")\nresult_df = eval("x")\n', {python = false, policy = {python = "/nonexistent/python3"}})
    assert.is_true(report.partial)
    assert.same({"unknown-table@1", "python-missing@nil"}, ids(report))
    assert.truthy(report.findings[2].message:find("python3 not found", 1, true))
    assert.truthy(report.findings[2].message:find("syntax, column and policy checks skipped", 1, true))
  end)
end)

describe("lint fails closed", function()
  it("rejects code too deeply nested to analyse instead of passing it unchecked", function()
    local report = check("result_df = " .. ("-"):rep(50000) .. "1\n")
    assert.is_false(report.ok)
    assert.equal("syntax-error", report.findings[1].id)
  end)
end)

describe("lint.python", function()
  after_each(function() sys.setenv("SPARKGEN_PYTHON", nil) end)
  it("uses $SPARKGEN_PYTHON over the config and PATH", function()
    local real = assert(lint.python())
    sys.setenv("SPARKGEN_PYTHON", real)
    assert.equal(real, lint.python({python = "/elsewhere/python3"}))
  end)
  it("reports a configured interpreter that does not exist instead of guessing another", function()
    local path, err = lint.python({python = "/nonexistent/python3"})
    assert.is_nil(path)
    assert.equal("/nonexistent/python3 does not exist", err)
  end)
end)

describe("lint.model_claims", function()
  local report = {tables_used = {"orders", "order_items"}, complexity = "medium"}
  it("is silent when the claims match", function()
    assert.same({}, lint.model_claims(report, {tables_used = {"public.orders", "order_items"},
                                               estimated_complexity = "medium"}))
  end)
  it("warns about tables the model left out or invented, and a different complexity", function()
    local w = lint.model_claims(report, {tables_used = {"orders", "customers"}, estimated_complexity = "low"})
    assert.equal(3, #w)
    assert.truthy(w[1].message:find("order_items", 1, true))
    assert.truthy(w[2].message:find("customers", 1, true))
    assert.truthy(w[3].message:find("'low'", 1, true))
    assert.equal("warning", w[1].severity)
  end)
end)

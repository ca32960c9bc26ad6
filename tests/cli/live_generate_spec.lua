-- generate against a live database: pagila (a real sample database with a partitioned
-- table, views and enums) as the source, the model played by the mock server.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local cjson = require "cjson"

local HOME = cli.HOME
local PAGILA = cli.PAGILA
local KEY = "sk-ant-live-spec-not-a-key"

local sh = cli.sh

local available = os.getenv("TEST_TMP") and os.execute(HOME .. "/tests/lib/pg.sh available >/dev/null 2>&1")
  and io.open(PAGILA .. "/pagila-schema.sql")
if not available then
  describe("generate against pagila", function() pending("no PostgreSQL server binaries or no pagila dataset") end)
  return
end

describe("generate against pagila", function()
  local db
  setup(function()
    db = assert(sh(("%s/tests/lib/pg.sh db pagila %s/pagila-schema.sql %s/pagila-data.sql"):format(HOME, PAGILA, PAGILA)))
  end)
  local mock = cli.with_mock{api_key = KEY}
  local home = cli.temp_home()

  it("uses the partitioned payment table as a source and checks the code against the live catalog", function()
    mock.script{{reply = {
      code = 'result_df = (read_table("payment")\n    .groupBy("customer_id")\n' ..
             '    .agg(F.sum("amount").alias("total_paid"))\n    .select("customer_id", "total_paid"))\n',
      description = "Total paid per customer.", tables_used = {"payment"}, estimated_complexity = "low",
      validation_checks = {{rule = "not_null", columns = {"customer_id"}}}}}}
    local r = mock.run({"generate", "payment", "total paid per customer", "--db", db, "--json"},
      {env = {XDG_CACHE_HOME = home.dir}})
    assert.equal(0, r.status, r.stderr)
    local result = cjson.decode(r.stdout)
    assert.same({"payment"}, result.tables_used)
    -- the prompt described the live table, partitions folded into it
    local prompt = cjson.encode(mock.requests()[1].body)
    assert.matches("payment", prompt)
    assert.is_nil(prompt:find("payment_p2022_01", 1, true))
  end)

  it("rejects model code that names a column pagila does not have", function()
    local bad = {reply = {code = 'result_df = read_table("payment").select("amount_usd")\n', description = "x",
                          tables_used = {"payment"}, estimated_complexity = "low", validation_checks = {}}}
    mock.script{bad, bad, bad}
    local r = mock.run({"generate", "payment", "amounts in dollars", "--db", db, "--no-cache"},
      {env = {XDG_CACHE_HOME = home.dir}})
    assert.equal(1, r.status)
    assert.matches("unknown%-column: .*amount_usd.*did you mean: amount", r.stderr)
  end)
end)

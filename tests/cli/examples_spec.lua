-- The examples a newcomer runs first must keep working: the recipes and the batch file.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local HOME = cli.HOME

describe("examples/recipes", function()
  local tmp = cli.temp_home()

  it("monthly.lua prints the code and writes a job that Python compiles", function()
    local r = cli.run({"run", HOME .. "/examples/recipes/monthly.lua", tmp.dir})
    assert.equal(0, r.status, r.stderr)
    assert.matches("%-%- check: The result has at least one row%.", r.stdout)
    assert.matches("result_df", r.stdout)
    assert.truthy(os.execute("python3 -m py_compile " .. cli.quote(tmp.dir .. "/monthly_revenue.py")))
  end)

  it("weekly_pack.lua generates four jobs in parallel", function()
    local r = cli.run({"run", HOME .. "/examples/recipes/weekly_pack.lua", tmp.dir})
    assert.equal(0, r.status, r.stderr)
    for _, job in ipairs({"01_daily_sales.py", "02_top_customers.py", "03_product_performance.py",
                          "04_ticket_resolution_time.py"}) do
      assert.truthy(cli.slurp(tmp.dir .. "/" .. job):find("def transform(read_table, params):", 1, true), job)
    end
  end)

  it("requests.jsonl runs offline except the free-form request, which says it needs a key", function()
    local r = cli.run({"batch", HOME .. "/examples/recipes/requests.jsonl", "--schema", cli.SHOP})
    assert.equal(1, r.status)
    assert.matches("4 requests: 3 ok, 1 failed", r.stdout)
    assert.matches("failed  orders top customers by revenue .*ANTHROPIC_API_KEY", r.stdout)
  end)
end)

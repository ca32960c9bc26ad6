-- sparkgen eval and the plan check from the command line, without Spark: usage errors,
-- a database that is not there, --compare of two reports, --plan-check without Spark.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local HOME = cli.HOME

describe("sparkgen eval", function()
  local tmp = cli.temp_home()

  it("needs a suite or --compare (usage error)", function()
    local r = cli.run({"eval"})
    assert.equal(2, r.status)
    assert.matches("^sparkgen: a suite file is needed %(or %-%-compare A.json B.json%)\n$", r.stderr)
  end)

  it("says once that it cannot reach the suite's database", function()
    local r = cli.run({"eval", HOME .. "/examples/eval/shop.lua", "--replay", HOME .. "/examples/eval/replay",
                       "--db", "host=" .. tmp.dir .. " dbname=shop", "--no-progress"})
    assert.equal(1, r.status)
    assert.matches("^sparkgen: eval runs the jobs on the suite's database [^\n]*cannot connect to PostgreSQL[^\n]*\n$", r.stderr)
  end)

  it("--compare lists the cases that changed and exits 1 on a regression", function()
    local function report(status_b)
      return ([[{"format": "sparkgen.eval/1", "suite": "t", "summary": {"cases": 2, "as_expected": %d, "passed": %d},
        "cases": [{"name": "a", "status": "pass", "as_expected": true},
                  {"name": "b", "status": "%s", "as_expected": %s, "reason": "wrong result: expected 3 rows, got 2"}]}]])
        :format(status_b == "pass" and 2 or 1, status_b == "pass" and 2 or 1, status_b, tostring(status_b == "pass"))
    end
    cli.write(tmp.dir .. "/a.json", report("pass"))
    cli.write(tmp.dir .. "/b.json", report("wrong"))
    local r = cli.run({"eval", "--compare", tmp.dir .. "/a.json", tmp.dir .. "/b.json"})
    assert.equal(1, r.status, r.stderr)
    assert.matches("b%s+regression%s+pass%s+wrong%s+wrong result: expected 3 rows, got 2", r.stdout)
    assert.is_nil(r.stdout:find("\na ", 1, true))
    assert.matches("1 regression, 0 improvements", r.stdout, 1, true)
    local same = cli.run({"eval", "--compare", tmp.dir .. "/a.json", tmp.dir .. "/a.json"})
    assert.equal(0, same.status)
    assert.matches("no case changed", same.stdout, 1, true)
  end)

  it("--compare refuses a file that is not an eval report", function()
    cli.write(tmp.dir .. "/x.json", '{"cases": []}')
    local r = cli.run({"eval", "--compare", tmp.dir .. "/x.json", tmp.dir .. "/x.json"})
    assert.equal(1, r.status)
    assert.matches("x.json is not a report written by `sparkgen eval --json`", r.stderr, 1, true)
  end)
end)

describe("sparkgen generate --plan-check", function()
  it("fails with one line saying what is missing when Spark is not installed", function()
    local dir = cli.tempdir()
    cli.write(dir .. "/sparkgen.lua", 'return {spark = {submit = "/nonexistent/spark-submit"}}')
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", cli.SHOP, "--plan-check",
                       "--config", dir .. "/sparkgen.lua"})
    cli.rmdir(dir)
    assert.equal(1, r.status)
    assert.matches("^sparkgen: the plan check %(%-%-plan%-check%) needs Spark: spark.submit is set to "
      .. "/nonexistent/spark%-submit, which does not exist\n$", r.stderr)
  end)
  it("reports in the result that only lint ran by default", function()
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", cli.SHOP, "--json"})
    assert.equal(0, r.status, r.stderr)
    local doc = require("cjson").decode(r.stdout)
    assert.same({"lint"}, doc.checked)
    assert.equal("off", doc.plan_check.status)
  end)
end)

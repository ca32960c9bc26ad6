-- End-to-end: the sparkgen binary as a user runs it, offline, from the shop snapshot.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local SHOP = cli.SHOP

local gen = cli.generate
local tmp = cli.temp_home()  -- a fresh directory for each test

describe("sparkgen (no arguments and --version)", function()
  it("prints the version", function()
    local r = cli.run({"--version"})
    assert.equal(0, r.status)
    assert.matches("^sparkgen %d+%.%d+%.%d+\n$", r.stdout)
  end)

  it("prints help listing the commands when run without a command", function()
    local r = cli.run({})
    assert.equal(0, r.status)
    assert.matches("generate", r.stdout)
    assert.matches("types", r.stdout)
  end)

  for _, command in ipairs({"generate", "run", "types", "schema", "batch"}) do
    it("answers --help for '" .. command .. "'", function()
      local r = cli.run({command, "--help"})
      assert.equal(0, r.status)
      assert.matches("Usage: sparkgen " .. command, r.stdout)
    end)
  end

  for _, argv in ipairs({{"--strict", "types"}, {"types", "--strict"}}) do
    it("honours " .. table.concat(argv, " ") .. ": a broken user plugin is an error", function()
      local dir = tmp.dir
      cli.write(dir .. "/types/bad.lua", "return 42\n")
      local r = cli.run(argv, {env = {SPARKGEN_PATH = dir}})
      assert.equal(1, r.status)
      assert.matches("^sparkgen: broken type plugin: .*bad%.lua:1: a plugin file must return a table", r.stderr)
    end)
  end

  it("honours --config before the command", function()
    local r = cli.run({"--config", "/nonexistent/sparkgen.lua", "types"})
    assert.equal(1, r.status)
    assert.matches("^sparkgen: config file /nonexistent/sparkgen%.lua: not found", r.stderr)
  end)

  it("rejects an unknown command with a usage error", function()
    local r = cli.run({"frobnicate"})
    assert.equal(2, r.status)
    assert.matches("sparkgen: unknown command 'frobnicate'", r.stderr)
  end)
end)

describe("sparkgen generate (offline, template types)", function()
  it("prints PySpark code that reads through read_table and assigns result_df", function()
    local r = gen({"--context", "time_period=last_month"})
    assert.equal(0, r.status, r.stderr)
    assert.matches('read_table%("orders"%)', r.stdout)
    assert.matches("result_df%s*=", r.stdout)
  end)

  it("prints the whole result with --json", function()
    local r = gen({"--json", "--context", "as_of=2026-11-15"})
    assert.equal(0, r.status, r.stderr)
    local result = require("cjson").decode(r.stdout)
    assert.equal("template", result.provider)
    assert.equal("2026-11-15", result.request.context.as_of)
    assert.truthy(#result.validation_checks > 0)
    assert.truthy(result.validation_checks[1].description)
    assert.truthy(result.estimated_complexity == "low" or result.estimated_complexity == "medium"
      or result.estimated_complexity == "high")
    assert.same(false, result.cached)
    assert.equal(1, result.attempts)
  end)

  it("accepts the context as a Lua table literal", function()
    local r = gen({"--json", "--context", '{time_period = "all", as_of = "2026-01-31"}'})
    assert.equal(0, r.status, r.stderr)
    local result = require("cjson").decode(r.stdout)
    assert.equal("all", result.request.context.time_period)
  end)

  it("writes a job that Python compiles", function()
    local dir = tmp.dir
    local job = dir .. "/job.py"
    local r = gen({"--context", "time_period=last_month", "--job", job})
    assert.equal(0, r.status, r.stderr)
    local ok = os.execute("python3 -m py_compile " .. cli.quote(job))
    assert.truthy(ok)
  end)

  it("names the missing directory when --job points into one", function()
    local dir = tmp.dir
    local r = gen({"--job", dir .. "/jobs/x.py"})
    assert.equal(1, r.status)
    assert.equal(("sparkgen: cannot write job %s/jobs/x.py: directory %s/jobs does not exist (mkdir -p %s/jobs)\n"):format(
      dir, dir, dir), r.stderr)
  end)

  it("never writes a database password into the job", function()
    local dir = tmp.dir
    local job = dir .. "/job.py"
    local r = gen({"--job", job}, {env = {PGPASSWORD = "hunter2-secret"}})
    local text = cli.slurp(job)
    assert.equal(0, r.status, r.stderr)
    assert.is_nil(text:find("hunter2-secret", 1, true))
  end)
end)

describe("sparkgen generate (bad input: one line, non-zero exit)", function()
  local function one_line_failure(r, pattern)
    assert.is_not.equal(0, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches(pattern, r.stderr)
    assert.equal("", r.stdout)
  end

  it("an unknown table, with suggestions", function()
    one_line_failure(cli.run({"generate", "ordres", "revenue_by_category", "--schema", SHOP}),
      "^sparkgen: .*ordres.*did you mean: orders")
  end)

  it("an unknown type, with suggestions", function()
    one_line_failure(cli.run({"generate", "orders", "revenue_by_categry", "--schema", SHOP}),
      "^sparkgen: unknown type 'revenue_by_categry' %(did you mean: revenue_by_category")
  end)

  it("a bad context value, listing the allowed values", function()
    one_line_failure(gen({"--context", "time_period=last_decade"}),
      "^sparkgen: parameter 'time_period' of type 'revenue_by_category' must be one of .*last_month")
  end)

  it("an unknown context key, listing the allowed keys", function()
    one_line_failure(gen({"--context", "period=all"}),
      "^sparkgen: type 'revenue_by_category' has no parameter 'period'.*allowed: ")
  end)

  it("a context that is not key=value", function()
    one_line_failure(gen({"--context", "last_month"}), "^sparkgen: bad %-%-context 'last_month': expected key=value")
  end)

  it("an unreadable snapshot", function()
    one_line_failure(cli.run({"generate", "orders", "revenue_by_category", "--schema", "/nonexistent/schema.json"}),
      "^sparkgen: .*/nonexistent/schema%.json")
  end)

  it("a snapshot that is not JSON", function()
    local dir = tmp.dir
    cli.write(dir .. "/bad.json", "{not json")
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", dir .. "/bad.json"})
    one_line_failure(r, "^sparkgen: .*bad%.json")
  end)

  for _, case in ipairs({
    {"a broken config file, naming the file and line", "return {\n  model = ,\n}\n",
     "^sparkgen: broken config file .*sparkgen%.lua:2:"},
    {"an unknown config key, naming the key and the file", "return {modle = 'x'}\n",
     "^sparkgen: .*sparkgen%.lua: unknown config key 'modle' %(did you mean: model, models%?%)"},
  }) do
    it(case[1], function()
      cli.write(tmp.dir .. "/sparkgen.lua", case[2])
      one_line_failure(gen({}, {cwd = tmp.dir}), case[3])
    end)
  end

  it("a free-form request without an API key says how to set one", function()
    one_line_failure(cli.run({"generate", "orders", "monthly revenue per category", "--schema", SHOP}),
      "^sparkgen: a free%-form request needs a model.*ANTHROPIC_API_KEY")
  end)

  it("a type without a template and no API key says so and how to set the key", function()
    local dir = tmp.dir
    cli.write(dir .. "/types/weekly_orders.lua",
      "return {name = 'weekly_orders', summary = 'Orders per week', tables = {'orders'}, complexity = 'low'}\n")
    local r = cli.run({"generate", "orders", "weekly_orders", "--schema", SHOP}, {env = {SPARKGEN_PATH = dir}})
    one_line_failure(r, "^sparkgen: type 'weekly_orders' has no template and ANTHROPIC_API_KEY is not set: export ANTHROPIC_API_KEY=")
  end)

  it("a broken type plugin asked for by name", function()
    local dir = tmp.dir
    cli.write(dir .. "/types/weekly.lua", "return {\n  name = 'weekly',\n  summary = 'x',\n  complexity = 'huge',\n}\n")
    local r = cli.run({"generate", "orders", "weekly", "--schema", SHOP, "--log-level", "off"}, {env = {SPARKGEN_PATH = dir}})
    one_line_failure(r, "^sparkgen: type 'weekly' is broken: .*weekly%.lua:4: field 'complexity'")
  end)
end)

describe("sparkgen types", function()
  it("lists the built-in types with their origin", function()
    local r = cli.run({"types"})
    assert.equal(0, r.status, r.stderr)
    for _, name in ipairs({"revenue_by_category", "top_customers", "daily_sales", "customer_lifetime_value",
                           "ticket_resolution_time", "product_performance", "monthly_cohort_retention"}) do
      assert.matches(name, r.stdout, 1, true)
    end
    assert.matches("origin: built%-in", r.stdout)
  end)

  it("shows one type's parameters and checks", function()
    local r = cli.run({"types", "show", "revenue_by_category"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("time_period enum", r.stdout)
    assert.matches("checks:", r.stdout)
  end)

  it("picks up a type dropped into a user directory, without rebuilding", function()
    local dir = tmp.dir
    cli.write(dir .. "/types/weekly_orders.lua",
      "return {name = 'weekly_orders', summary = 'Orders per week', tables = {'orders'}, complexity = 'low'}\n")
    local r = cli.run({"types"}, {env = {SPARKGEN_PATH = dir}})
    assert.equal(0, r.status, r.stderr)
    assert.matches("weekly_orders%s+Orders per week %[model only%]", r.stdout)
    assert.matches("origin: " .. dir:gsub("%p", "%%%0"), r.stdout)
  end)

  it("lets a user type shadow a built-in one and says so", function()
    local dir = tmp.dir
    cli.write(dir .. "/types/daily_sales.lua",
      "return {name = 'daily_sales', summary = 'Our own daily sales', tables = {'orders'}, complexity = 'low'}\n")
    local r = cli.run({"types"}, {env = {SPARKGEN_PATH = dir}})
    assert.matches("daily_sales%s+Our own daily sales", r.stdout)
    assert.matches("shadows built%-in", r.stdout)
  end)
end)

describe("sparkgen run", function()
  it("runs a recipe that generates through require 'sparkgen' and sees its arguments", function()
    local dir = tmp.dir
    cli.write(dir .. "/recipe.lua", ([[
      local sg = require "sparkgen"
      assert(sg.configure{schema = %q})
      local r = assert(sg.generate{source = "orders", type = "daily_sales", context = {as_of = "2026-11-15"}})
      print(arg[1], r.provider, r.request.type)
    ]]):format(SHOP))
    local r = cli.run({"run", dir .. "/recipe.lua", "hello"})
    assert.equal(0, r.status, r.stderr)
    assert.equal("hello\ttemplate\tdaily_sales\n", r.stdout)
  end)

  it("reports a recipe's error as one line with the recipe's file and line", function()
    local dir = tmp.dir
    cli.write(dir .. "/recipe.lua", "local x = nil\nerror('stop here')\n")
    local r = cli.run({"run", dir .. "/recipe.lua"})
    assert.equal(1, r.status)
    assert.matches("^sparkgen: [^\n]*recipe%.lua:2: stop here\n$", r.stderr)
  end)
end)

describe("sparkgen batch (offline)", function()
  it("runs every request and reports failures per request in input order", function()
    local dir = tmp.dir
    cli.write(dir .. "/reqs.jsonl", table.concat({
      '{"source": "orders", "type": "revenue_by_category", "context": {"time_period": "all"}}',
      '{"source": "orders", "type": "no_such_type"}',
      '{"source": "customers", "type": "top_customers", "context": {"limit": 3}}',
    }, "\n"))
    local r = cli.run({"batch", dir .. "/reqs.jsonl", "--schema", SHOP, "--json"})
    assert.equal(1, r.status)
    local out = require("cjson").decode(r.stdout)
    assert.equal("ok", out.results[1].status)
    assert.equal("failed", out.results[2].status)
    assert.matches("unknown type 'no_such_type'", out.results[2].error)
    assert.equal("ok", out.results[3].status)
    assert.equal(2, out.summary.ok)
    assert.equal(1, out.summary.failed)
  end)

  it("reads requests from a Lua file returning a list", function()
    local dir = tmp.dir
    cli.write(dir .. "/reqs.lua", [[
return {
  {source = "orders", type = "daily_sales", context = {time_period = "last_7_days"}},
  {source = "customers", type = "customer_lifetime_value"},
}
]])
    local r = cli.run({"batch", dir .. "/reqs.lua", "--schema", SHOP, "--json"})
    assert.equal(0, r.status, r.stderr)
    local out = require("cjson").decode(r.stdout)
    assert.equal(2, out.summary.ok)
    assert.equal("daily_sales", out.results[1].type)
  end)

  it("names the line of a malformed JSON-lines file", function()
    local dir = tmp.dir
    cli.write(dir .. "/reqs.jsonl", '{"source": "orders", "type": "daily_sales"}\n{oops\n')
    local r = cli.run({"batch", dir .. "/reqs.jsonl", "--schema", SHOP})
    assert.equal(1, r.status)
    assert.matches("^sparkgen: .*reqs%.jsonl:2: invalid JSON", r.stderr)
  end)
end)

-- End-to-end history: every generation is recorded (ok, failed, cached), `sparkgen log`
-- reads it back, --no-log and `history = {enabled = false}` turn it off, and concurrent
-- processes lose no row.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local sqlite = require "sparkgen.sqlite"
local util = require "sparkgen.util"
local SHOP = cli.SHOP

describe("sparkgen log", function()
  local home = cli.temp_home()
  local function data_env() return {XDG_DATA_HOME = home.dir .. "/data"} end
  local function run(argv, opts)
    opts = opts or {}
    opts.env = opts.env or data_env()
    return cli.run(argv, opts)
  end
  local function gen(extra)
    local argv = {"generate", "orders", "revenue_by_category", "--schema", SHOP}
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return run(argv)
  end
  local function listed()
    local r = run({"log", "--json", "-n", "0"})
    assert.equal(0, r.status, r.stderr)
    return assert(util.json_decode(r.stdout))
  end


  it("records a generation with its job, and lists it", function()
    local r = gen({"-c", "time_period=ytd", "--job", home.dir .. "/job.py"})
    assert.equal(0, r.status, r.stderr)
    assert.truthy(util.file_exists(home.dir .. "/data/sparkgen/history.db"))
    local rows = listed()
    assert.equal(1, #rows)
    assert.equal("generate", rows[1].command)
    assert.equal("revenue_by_category", rows[1].type)
    assert.equal("template", rows[1].provider)
    assert.is_true(rows[1].ok)
    assert.equal(home.dir .. "/job.py", rows[1].job)
    local text = run({"log"})
    assert.matches("orders revenue_by_category", text.stdout, 1, true)
    assert.matches("job " .. home.dir .. "/job.py", text.stdout, 1, true)
  end)

  it("records a failed request too, with its error", function()
    local r = gen({"-c", "time_period=yesterday"})
    assert.equal(1, r.status)
    local rows = listed()
    assert.equal(1, #rows)
    assert.is_false(rows[1].ok)
    assert.matches("time_period", rows[1].error, 1, true)
  end)

  it("shows one generation's result: request, checks and code", function()
    gen({"-c", "time_period=ytd"})
    local r = run({"log", "show", "1"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("^generation 1 — ", r.stdout)
    assert.matches("context:  as_of=%d+%-%d+%-%d+ time_period=ytd", r.stdout)
    assert.matches("checks:\n  %- The result has at least one row%.", r.stdout)
    assert.matches("--- code\n", r.stdout, 1, true)
    assert.matches('read_table("orders")', r.stdout, 1, true)
    local j = assert(util.json_decode(run({"log", "show", "1", "--json"}).stdout))
    assert.equal("ytd", j.result.request.context.time_period)
  end)

  it("diffs two generations' requests and code, exiting 1 when they differ", function()
    gen({"-c", "time_period=ytd"})
    gen({"-c", "time_period=all"})
    local r = run({"log", "diff", "1", "2"})
    assert.equal(1, r.status, r.stderr)
    assert.matches('context: {"as_of":"[%d-]+","time_period":"ytd"} → {"as_of":"[%d-]+","time_period":"all"}', r.stdout)
    local same = run({"log", "diff", "1", "1"})
    assert.equal(0, same.status)
    assert.matches("are the same request, code and checks", same.stdout, 1, true)
  end)

  it("sums tokens and cost by day and model", function()
    gen()
    gen()
    local r = run({"log", "stats", "--json"})
    assert.equal(0, r.status, r.stderr)
    local rows = assert(util.json_decode(r.stdout))
    assert.equal(1, #rows)
    assert.equal(2, rows[1].generations)
    assert.equal(os.date("!%Y-%m-%d"), rows[1].day)
    assert.equal(0, rows[1].cost_usd)
  end)

  it("records nothing with --no-log or history = {enabled = false} in the project config", function()
    assert.equal(0, gen({"--no-log"}).status)
    assert.is_false(util.file_exists(home.dir .. "/data/sparkgen/history.db"))
    cli.write(home.dir .. "/sparkgen.lua", "return {history = {enabled = false}}\n")
    local r = cli.run({"generate", "orders", "revenue_by_category", "--schema", SHOP}, {env = data_env(), cwd = home.dir})
    assert.equal(0, r.status, r.stderr)
    assert.is_false(util.file_exists(home.dir .. "/data/sparkgen/history.db"))
  end)

  it("names an unknown history config key with the closest known one", function()
    cli.write(home.dir .. "/sparkgen.lua", "return {history = {enable = false}}\n")
    local r = cli.run({"log"}, {env = data_env(), cwd = home.dir})
    assert.equal(1, r.status)
    assert.matches("unknown config key 'history.enable' (did you mean: history.enabled, history.file?)", r.stderr, 1, true)
  end)

  it("rejects a bad --since, an unknown type and a missing id with one line each", function()
    gen()
    local r = run({"log", "--since", "7x"})
    assert.equal(2, r.status)
    assert.equal("sparkgen: --since '7x': expected a duration like 30m, 12h, 7d, 2w or a date YYYY-MM-DD\n", r.stderr)
    r = run({"log", "--type", "revenue_by_categry"})
    assert.equal(1, r.status)
    assert.equal("sparkgen: unknown type 'revenue_by_categry' (did you mean: revenue_by_category?)\n", r.stderr)
    r = run({"log", "show", "9"})
    assert.equal(1, r.status)
    assert.equal("sparkgen: no generation 9 in the history (ids run from 1 to 1)\n", r.stderr)
    r = run({"log", "show", "x"})
    assert.equal(2, r.status)
    assert.equal(1, cli.lines(r.stderr))
  end)

  it("keeps every row when 8 processes generate at once", function()
    local recipe = home.dir .. "/many.lua"
    cli.write(recipe, ([[
local sg = require "sparkgen"
assert(sg.configure{schema = %q})
local k = tonumber(arg[1])
for j = 1, 10 do
  assert(sg.generate{source = "orders", type = "revenue_by_category",
                     context = {as_of = ("2026-%%02d-%%02d"):format(k, j)}})
end
]]):format(SHOP))
    local cmd = {}
    for k = 1, 8 do
      cmd[#cmd + 1] = ("env XDG_DATA_HOME=%s %s run %s %d >%s/out.%d 2>&1 &"):format(
        cli.quote(data_env().XDG_DATA_HOME), cli.quote(cli.BIN), cli.quote(recipe), k, home.dir, k)
    end
    assert(os.execute(table.concat(cmd, " ") .. " wait"))
    for k = 1, 8 do assert.equal("", cli.slurp(("%s/out.%d"):format(home.dir, k))) end
    local seen, n = {}, 0
    for _, row in ipairs(listed()) do
      n = n + 1
      assert.is_true(row.ok)
      local shown = run({"log", "show", tostring(math.tointeger(row.id)), "--json"})
      assert.equal(0, shown.status, shown.stderr)
      local g = assert(util.json_decode(shown.stdout))
      local as_of = g.context.as_of
      assert.is_nil(seen[as_of], "duplicate row for " .. as_of)
      seen[as_of] = true
    end
    assert.equal(80, n)
    for k = 1, 8 do
      for j = 1, 10 do assert.truthy(seen[("2026-%02d-%02d"):format(k, j)]) end
    end
    local db = assert(sqlite.open(home.dir .. "/data/sparkgen/history.db"))
    assert.equal("ok", db:query("PRAGMA integrity_check")[1].integrity_check)
    db:close()
  end)
end)

describe("log = false in a config", function()
  it("is an error that points at history = {enabled = false}", function()
    local home = cli.tempdir()
    cli.write(home .. "/sparkgen.lua", "return {log = false}\n")
    local r = cli.run({"log"}, {cwd = home, env = {XDG_DATA_HOME = home .. "/data"}})
    cli.rmdir(home)
    assert.equal(1, r.status)
    assert.equal("sparkgen: ./sparkgen.lua: config key 'log' must be a table "
      .. "(to stop recording generations, use history = {enabled = false})\n", r.stderr)
  end)
end)

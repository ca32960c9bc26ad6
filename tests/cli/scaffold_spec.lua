-- Scaffolds: sparkgen init, types new, rules new. Each writes files that load and pass
-- lint as written, and none overwrites a file that exists.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local util = require "sparkgen.util"
local SHOP = cli.SHOP

describe("scaffolds", function()
  local tmp = cli.temp_home()
  local proj
  local function run(argv, opts)
    opts = opts or {}
    opts.cwd = opts.cwd or proj
    opts.env = opts.env or {XDG_DATA_HOME = tmp.dir .. "/data"}
    return cli.run(argv, opts)
  end
  before_each(function()
    proj = tmp.dir .. "/proj"
    local r = cli.run({"init", proj})
    assert.equal(0, r.status, r.stderr)
  end)

  it("init writes a config that loads and an example type that generates code passing lint", function()
    for _, f in ipairs({"sparkgen.lua", "types/row_count.lua", "templates/types/row_count.py",
                        "eval/row_count.lua", "rules/README", "prompts/README"}) do
      assert.truthy(util.file_exists(proj .. "/" .. f), f)
    end
    local show = run({"types", "show", "row_count"})
    assert.equal(0, show.status, show.stderr)
    assert.matches("origin:     " .. proj, show.stdout, 1, true)
    local gen = run({"generate", "customers", "row_count", "--schema", SHOP, "--job", "job.py"})
    assert.equal(0, gen.status, gen.stderr)
    assert.equal(0, run({"lint", "job.py", "--schema", SHOP}).status)
  end)

  it("init's user root works from another directory too (paths are relative to the config)", function()
    local r = cli.run({"--config", proj .. "/sparkgen.lua", "types", "show", "row_count"}, {cwd = tmp.dir})
    assert.equal(0, r.status, r.stderr)
  end)

  it("init refuses to overwrite, naming every file that exists", function()
    local r = cli.run({"init", proj})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
    assert.matches("^sparkgen: will not overwrite " .. proj .. "/sparkgen.lua, " .. proj .. "/types/row_count.lua, ", r.stderr)
  end)

  it("types new writes a type, template and eval case that load, generate and pass lint", function()
    local r = run({"types", "new", "weekly_refunds", "--source", "orders"})
    assert.equal(0, r.status, r.stderr)
    assert.equal(("wrote %s/types/weekly_refunds.lua\nwrote %s/templates/types/weekly_refunds.py\n"
      .. "wrote %s/eval/weekly_refunds.lua\n"):format(proj, proj, proj), r.stdout)
    assert.equal(0, run({"types", "show", "weekly_refunds"}).status)
    local gen = run({"generate", "orders", "weekly_refunds", "--schema", SHOP, "--json"})
    assert.equal(0, gen.status, gen.stderr)
    assert.same({}, util.json_decode(gen.stdout).findings)
    local eval = require("sparkgen.eval")
    assert.truthy(eval.load_suite(proj .. "/eval/weekly_refunds.lua"))
  end)

  it("types new --from copies an existing type under the new name, template included", function()
    local r = run({"types", "new", "big_spenders", "--from", "top_customers"})
    assert.equal(0, r.status, r.stderr)
    local show = run({"types", "show", "big_spenders", "--json"})
    assert.equal(0, show.status, show.stderr)
    local def = util.json_decode(show.stdout)
    assert.equal("types/big_spenders.py", def.template)
    assert.same({"orders", "customers"}, def.tables)
    local gen = run({"generate", "orders", "big_spenders", "--schema", SHOP, "--json"})
    assert.equal(0, gen.status, gen.stderr)
    assert.same({}, util.json_decode(gen.stdout).findings)
  end)

  it("types new refuses to overwrite and rejects a bad name or an unknown --from", function()
    assert.equal(0, run({"types", "new", "weekly_refunds"}).status)
    local again = run({"types", "new", "weekly_refunds"})
    assert.equal(1, again.status)
    assert.equal(("sparkgen: will not overwrite %s/types/weekly_refunds.lua, %s/templates/types/weekly_refunds.py, "
      .. "%s/eval/weekly_refunds.lua (remove them or choose another name)\n"):format(proj, proj, proj), again.stderr)
    local bad = run({"types", "new", "Weekly-Refunds"})
    assert.equal(2, bad.status)
    assert.matches("a type name is lower case letters", bad.stderr, 1, true)
    local from = run({"types", "new", "x", "--from", "top_customer"})
    assert.equal(1, from.status)
    assert.matches("did you mean: top_customers", from.stderr, 1, true)
  end)

  it("types new without a user root says how to get one", function()
    local r = cli.run({"types", "new", "x"}, {cwd = tmp.dir})
    assert.equal(1, r.status)
    assert.matches("^sparkgen: no user root to write into: run 'sparkgen init'", r.stderr)
  end)

  it("rules new writes a rule that loads and that a type's check can use", function()
    local r = run({"rules", "new", "no_missing_email"})
    assert.equal(0, r.status, r.stderr)
    local list = run({"rules"})
    assert.matches("no_missing_email +No missing email", list.stdout)
    -- use it from the example type
    local path = proj .. "/types/row_count.lua"
    local text = cli.slurp(path):gsub('{rule = "non_empty"},', '{rule = "non_empty"}, {rule = "no_missing_email", column = "rows"},')
    cli.write(path, text)
    local gen = run({"generate", "customers", "row_count", "--schema", SHOP, "--json"})
    assert.equal(0, gen.status, gen.stderr)
    local checks = util.json_decode(gen.stdout).validation_checks
    assert.equal("no_missing_email", checks[2].rule)
    assert.equal("Column rows is never null.", checks[2].description)
  end)
end)

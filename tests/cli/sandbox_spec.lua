-- End-to-end: everything sparkgen runs on a team's behalf is sandboxed and bounded.
-- Each reproduction from the hardening report: a loop, a memory bomb, a reach for io/os
-- or a change to a shared library, in each place user Lua runs, is one error line naming
-- the file and line and a non-zero exit — never a hang (every run has a timeout, so a
-- regression fails instead of stalling the suite), a traceback or exit 70.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local SHOP = cli.SHOP

local LOOP = "while true do end"
local TIMEOUT = 30

local root
before_each(function()
  root = cli.tempdir()
  for _, d in ipairs({"types", "rules", "prompts", "templates/types"}) do
    assert(os.execute("mkdir -p " .. cli.quote(root .. "/" .. d)))
  end
end)
after_each(function() cli.rmdir(root) end)

local function run(argv, opts)
  opts = opts or {}
  opts.timeout = TIMEOUT
  local r = cli.run(argv, opts)
  assert.is_not.equal(124, r.status, "timed out: " .. r.stderr)
  return r
end

-- One line on stderr, starting with "sparkgen: ", matching `pattern`, and exit `status`.
local function one_line(r, pattern, status)
  assert.equal(status or 1, r.status, r.stderr)
  assert.equal(1, cli.lines(r.stderr), r.stderr)
  assert.matches("^sparkgen: ", r.stderr)
  assert.matches(pattern, r.stderr)
  assert.is_nil(r.stderr:find("traceback", 1, true), r.stderr)
end

local function generate(type_name, opts)
  return run({"generate", "orders", type_name or "daily_sales", "--schema", SHOP}, opts)
end

local USER_TYPE = [[
return {
  name = "%s",
  summary = "A user type",
  tables = {"orders"},
  complexity = "low",
  checks = {%s},
  description = %q,
  template = "types/daily_sales.py",
}
]]

describe("sandbox: a loop is one line naming file and line", function()
  it("in ./sparkgen.lua", function()
    cli.write(root .. "/sparkgen.lua", "local x = 1\n\n" .. LOOP .. "\nreturn {}\n")
    one_line(run({"types"}, {cwd = root}), "%./sparkgen%.lua:3: took more than %d+ instructions %(a loop%?%)")
  end)

  it("in a --config file", function()
    cli.write(root .. "/team.lua", "return {max_repairs = (function() " .. LOOP .. " end)()}\n")
    one_line(run({"--config", root .. "/team.lua", "types"}), "team%.lua:1: took more than %d+ instructions")
  end)

  it("in a --context literal", function()
    local r = run({"generate", "orders", "daily_sales", "--schema", SHOP,
                   "--context", "{time_period = (function() " .. LOOP .. " end)()}"})
    one_line(r, "%-%-context.*took more than %d+ instructions", 2)
  end)

  it("in a type file (and the other types keep working without --strict)", function()
    cli.write(root .. "/types/looping.lua", "return {\n  name = 'looping',\n  summary = (function() " .. LOOP .. " end)(),\n}\n")
    one_line(run({"types", "--strict"}, {env = {SPARKGEN_PATH = root}}), "looping%.lua:3: took more than %d+ instructions")
    local r = run({"types", "--log-level", "off"}, {env = {SPARKGEN_PATH = root}})
    assert.equal(0, r.status, r.stderr)
    assert.matches("daily_sales", r.stdout)
  end)

  it("in a template", function()
    cli.write(root .. "/templates/types/daily_sales.py", "result_df = None\n% " .. LOOP .. "\n")
    one_line(generate("daily_sales", {env = {SPARKGEN_PATH = root}}),
      "templates/types/daily_sales%.py:2: took more than %d+ instructions")
  end)

  it("in a rule's describe", function()
    cli.write(root .. "/rules/spin.lua", "return {\n  name = 'spin',\n  summary = 'spins',\n" ..
      "  describe = function(p)\n    " .. LOOP .. "\n  end,\n  pyspark = function(p) return '0' end,\n}\n")
    cli.write(root .. "/types/spun.lua", USER_TYPE:format("spun", "{rule = 'spin'}", "Spun."))
    one_line(generate("spun", {env = {SPARKGEN_PATH = root}}), "rules/spin%.lua:5: took more than %d+ instructions")
  end)

  it("in a type's description", function()
    cli.write(root .. "/types/described.lua", USER_TYPE:format("described", "", "$((function() " .. LOOP .. " end)())"))
    one_line(generate("described", {env = {SPARKGEN_PATH = root}}), "described%.lua.*took more than %d+ instructions")
  end)

  it("in prompts/system.md", function()
    cli.write(root .. "/prompts/system.md", "You write PySpark.\n% " .. LOOP .. "\n")
    one_line(run({"prompt", "orders", "daily_sales", "--schema", SHOP}, {env = {SPARKGEN_PATH = root}}),
      "prompts/system%.md:2: took more than %d+ instructions")
  end)

  it("in a Lua batch file", function()
    cli.write(root .. "/batch.lua", "local n = 0\n" .. LOOP .. "\nreturn {}\n")
    one_line(run({"batch", root .. "/batch.lua", "--schema", SHOP}), "batch%.lua:2: took more than %d+ instructions")
  end)

  it("in an eval suite", function()
    cli.write(root .. "/suite.lua", "local cases = {}\n" .. LOOP .. "\n")
    one_line(run({"eval", root .. "/suite.lua", "--schema", SHOP}), "suite%.lua:2: took more than %d+ instructions")
  end)

  it("in a recipe", function()
    cli.write(root .. "/recipe.lua", "local sg = require 'sparkgen'\n" .. LOOP .. "\n")
    one_line(run({"run", root .. "/recipe.lua"}), "recipe%.lua:2: took more than %d+ instructions")
  end)
end)

describe("sandbox: the --context literal", function()
  it("names an unquoted word and suggests the string", function()
    local r = run({"generate", "orders", "daily_sales", "--schema", SHOP, "--context", "{time_period = ytd}"})
    one_line(r, "unknown name 'ytd' — did you mean \"ytd\"%?", 2)
  end)
end)

describe("sandbox: memory is bounded", function()
  local BOMB = 'local t = {} while true do t[#t+1] = ("x"):rep(1e6) end'

  it("a memory bomb in ./sparkgen.lua is one line", function()
    cli.write(root .. "/sparkgen.lua", BOMB .. "\nreturn {}\n")
    one_line(run({"types"}, {cwd = root}), "sparkgen%.lua:?%d*: used more than 64 MB of memory")
  end)

  it("one huge string in a type file is one line", function()
    cli.write(root .. "/types/huge.lua", "local s = ('x'):rep(2e8)\nreturn {}\n")
    one_line(run({"types", "--strict"}, {env = {SPARKGEN_PATH = root}}), "huge%.lua:?%d*: used more than 64 MB of memory")
  end)

  it("the budget is the config's sandbox.memory_mb", function()
    cli.write(root .. "/sparkgen.lua", "return {sandbox = {memory_mb = 8}}\n")
    cli.write(root .. "/batch.lua", "local s = ('x'):rep(2e7)\nreturn {}\n")
    one_line(run({"batch", "batch.lua", "--schema", SHOP}, {cwd = root}), "batch%.lua:?%d*: used more than 8 MB of memory")
  end)
end)

describe("sandbox: no io, no os, no shared libraries to change", function()
  it("`% os.execute(...)` in a user root's prompts/system.md runs nothing and fails clearly", function()
    local marker = root .. "/pwned"
    cli.write(root .. "/prompts/system.md", "Hi.\n% os.execute('touch " .. marker .. "')\n")
    local r = run({"prompt", "orders", "daily_sales", "--schema", SHOP}, {env = {SPARKGEN_PATH = root}})
    one_line(r, "prompts/system%.md:2: os has no field 'execute'")
    assert.is_nil(io.open(marker))
  end)

  it("a type's description cannot reach io", function()
    cli.write(root .. "/types/reader.lua", USER_TYPE:format("reader", "", "$(io.open('/etc/passwd'):read('a'))"))
    one_line(generate("reader", {env = {SPARKGEN_PATH = root}}), "unknown name 'io'")
  end)

  it("a plugin replacing string.upper affects nothing else", function()
    cli.write(root .. "/types/evil.lua", "string.upper = function() return 'pwned' end\nreturn {}\n")
    local r = run({"types", "--strict"}, {env = {SPARKGEN_PATH = root}})
    one_line(r, "evil%.lua:1: string is read%-only")
    -- through the string metatable neither: getmetatable("") is not the engine's
    cli.write(root .. "/types/evil.lua", "getmetatable('').__index.upper = function() return 'pwned' end\nreturn {}\n")
    one_line(run({"types", "--strict"}, {env = {SPARKGEN_PATH = root}}), "evil%.lua:1: attempt to index a nil value")
    local plain = generate("daily_sales")
    local shadowed = generate("daily_sales", {env = {SPARKGEN_PATH = root}})
    assert.equal(0, shadowed.status, shadowed.stderr)
    assert.equal(plain.stdout, shadowed.stdout)
  end)

  it("a recipe gets require 'sparkgen' only", function()
    cli.write(root .. "/recipe.lua", "local sys = require 'sparkgen.sys'\n")
    one_line(run({"run", root .. "/recipe.lua"}), "recipe%.lua:1: a recipe can require only \"sparkgen\"")
    cli.write(root .. "/recipe.lua", "io.write('x')\n")
    one_line(run({"run", root .. "/recipe.lua"}), "recipe%.lua:1: unknown name 'io'")
  end)

  it("run --trusted gives a reviewed script the full environment", function()
    cli.write(root .. "/tool.lua", "io.write(require('sparkgen.sys').getpid() > 0 and 'ok' or 'no', arg[1])\n")
    local r = run({"run", "--trusted", root .. "/tool.lua", "!"})
    assert.equal(0, r.status, r.stderr)
    assert.equal("ok!", r.stdout)
  end)
end)

describe("sandbox: recipes", function()
  it("weekly_pack.lua without its argument is a usage error (exit 2), not a traceback", function()
    local r = run({"run", cli.HOME .. "/examples/recipes/weekly_pack.lua"})
    one_line(r, "^sparkgen: usage: sparkgen run examples/recipes/weekly_pack%.lua OUT_DIR\n$", 2)
  end)

  it("an error in a recipe is file:line: message", function()
    cli.write(root .. "/recipe.lua", "local sg = require 'sparkgen'\n\nerror('no data for ' .. 'May')\n")
    one_line(run({"run", root .. "/recipe.lua"}), "^sparkgen: [^\n]*recipe%.lua:3: no data for May\n$")
  end)
end)

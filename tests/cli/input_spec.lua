-- End-to-end: no silent wrong input. A misspelt key in a batch line, a Lua batch entry
-- or a recipe's request, and every plugin field error, is one line naming it with the
-- closest known name and where it is written; each broken plugin is reported once.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local SHOP = cli.SHOP

local tmp = cli.temp_home()

local function one_line(r, pattern, status)
  assert.equal(status or 1, r.status, r.stderr)
  assert.equal(1, cli.lines(r.stderr), r.stderr)
  assert.matches(pattern, r.stderr)
end

describe("unknown keys in requests", function()
  it("a JSON batch line: file, line and the closest key", function()
    cli.write(tmp.dir .. "/reqs.jsonl", '{"source": "orders", "type": "daily_sales"}\n' ..
      '{"source": "orders", "type": "daily_sales", "contxt": {"time_period": "ytd"}}\n')
    one_line(cli.run({"batch", tmp.dir .. "/reqs.jsonl", "--schema", SHOP}),
      "^sparkgen: [^\n]*reqs%.jsonl:2: unknown key 'contxt' %(did you mean: context%?%)")
  end)

  it("a Lua batch entry: the line where the entry is written", function()
    cli.write(tmp.dir .. "/reqs.lua", "return {\n  {source = 'orders', type = 'daily_sales'},\n\n" ..
      "  {source = 'orders', type = 'daily_sales',\n   contxt = {}},\n}\n")
    one_line(cli.run({"batch", tmp.dir .. "/reqs.lua", "--schema", SHOP}),
      "^sparkgen: [^\n]*reqs%.lua:4: request 2: unknown key 'contxt' %(did you mean: context%?%)")
  end)

  it("a recipe's sg.generate request", function()
    cli.write(tmp.dir .. "/recipe.lua", ("local sg = require 'sparkgen'\nassert(sg.configure{schema = %q})\n" ..
      "assert(sg.generate{source = 'orders', type = 'daily_sales', contxt = {}})\n"):format(SHOP))
    one_line(cli.run({"run", tmp.dir .. "/recipe.lua"}),
      "^sparkgen: [^\n]*recipe%.lua:3: sg%.generate: unknown key 'contxt' %(did you mean: context%?%)")
  end)
end)

describe("plugin field errors", function()
  local function types_strict()
    return cli.run({"types", "--strict"}, {env = {SPARKGEN_PATH = tmp.dir}})
  end

  it("a typo in a field name: its real line and the closest field", function()
    cli.write(tmp.dir .. "/types/t.lua", "return {\n  name = 't',\n  summary = 'x',\n  tables = {'orders'},\n  complexty = 'low',\n}\n")
    one_line(types_strict(), "t%.lua:5: field 'complexty': unknown field %(did you mean: complexity%?%)")
  end)

  it("a missing required field is named as missing", function()
    cli.write(tmp.dir .. "/types/t.lua", "return {\n  name = 't',\n  summary = 'x',\n}\n")
    one_line(types_strict(), "t%.lua:1: missing required field 'complexity'")
  end)

  it("a template error gives the template's file:line and no engine traceback", function()
    cli.write(tmp.dir .. "/templates/types/daily_sales.py", "# body\nresult_df = None\n% local n = nil + 1\n")
    local r = cli.run({"generate", "orders", "daily_sales", "--schema", SHOP}, {env = {SPARKGEN_PATH = tmp.dir}})
    one_line(r, "templates/types/daily_sales%.py:3: attempt to perform arithmetic on a nil value")
    assert.is_nil(r.stderr:find("traceback", 1, true))
  end)

  it("an error in a type's description gives the line in the type file", function()
    cli.write(tmp.dir .. "/types/t.lua", "return {\n  name = 't', summary = 'x', complexity = 'low',\n" ..
      "  template = 'types/daily_sales.py',\n  description = [[\nPlain.\nAnd $(nope).]],\n}\n")
    one_line(cli.run({"generate", "orders", "t", "--schema", SHOP}, {env = {SPARKGEN_PATH = tmp.dir}}),
      "^sparkgen: type 't': description: [^\n]*t%.lua:6: unknown name 'nope'")
  end)

  it("each broken plugin is reported once per command", function()
    cli.write(tmp.dir .. "/types/t.lua", "return {name = 't', summary = 'x'}\n")
    cli.write(tmp.dir .. "/rules/r.lua", "return {name = 'r', summary = 'x'}\n")
    local r = cli.run({"generate", "orders", "daily_sales", "--schema", SHOP, "--log-format", "json"},
      {env = {SPARKGEN_PATH = tmp.dir}})
    assert.equal(0, r.status, r.stderr)
    local _, nt = r.stderr:gsub("types/t%.lua:1: missing required field 'complexity'", "")
    local _, nr = r.stderr:gsub("rules/r%.lua:1: missing required field 'describe'", "")
    assert.equal(1, nt, r.stderr)
    assert.equal(1, nr, r.stderr)
    -- asked for by name, the error says it once and no warning repeats it
    r = cli.run({"types", "show", "t"}, {env = {SPARKGEN_PATH = tmp.dir}})
    one_line(r, "^sparkgen: type 't' is broken: [^\n]*t%.lua:1: missing required field 'complexity'")
  end)
end)

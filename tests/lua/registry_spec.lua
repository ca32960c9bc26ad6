-- The plugin registry shared by types and rules: where fields are written, field errors
-- at their real line with did-you-mean, missing required fields, broken plugins reported
-- once, one parameter checker.
local registry = require "sparkgen.registry"
local paths = require "sparkgen.paths"
local types = require "sparkgen.types"
local checks = require "sparkgen.checks"
local log = require "sparkgen.log"
local util = require "sparkgen.util"
local sys = require "sparkgen.sys"

local HOME = os.getenv("SPARKGEN_HOME")

describe("registry.field_lines", function()
  it("finds nested fields, positional entries and the table's own line", function()
    local lines = registry.field_lines(table.concat({
      "-- a comment with { braces } and name = 1",   -- 1
      "local helper = {name = 'not this one'}",      -- 2
      "return {",                                    -- 3
      "  name = 'x', summary = [[two",               -- 4
      "lines { }]],",                                -- 5
      "  params = {",                                -- 6
      "    limit = {type = 'integer',",              -- 7
      "             default = 3},",                  -- 8
      "  },",                                        -- 9
      "  checks = {",                                -- 10
      "    {rule = \"non_empty\"}, -- }",            -- 11
      "    {rule = 'unique', ['columns'] = {'a'}},", -- 12
      "  },",                                        -- 13
      "}",                                           -- 14
    }, "\n"))
    assert.equal(3, lines[""])
    assert.equal(4, lines.name)
    assert.equal(4, lines.summary)
    assert.equal(6, lines.params)
    assert.equal(7, lines["params.limit"])
    assert.equal(8, lines["params.limit.default"])
    assert.equal(11, lines["checks.1"])
    assert.equal(12, lines["checks.2"])
    assert.equal(12, lines["checks.2.columns"])
    assert.equal(7, registry.line_of(lines, "params.limit.max")) -- not written: its parent's
  end)
end)

describe("plugin field errors", function()
  local dir
  before_each(function()
    dir = assert(util.tempdir("registry-spec"))
    assert(sys.mkdir_p(dir .. "/types"))
    assert(sys.mkdir_p(dir .. "/rules"))
    paths.setup{builtin = HOME, user = {dir}}
  end)
  after_each(function()
    util.remove_tree(dir)
    paths.setup{builtin = HOME, user = {}}
    types.load_all{reload = true}
    checks.reset()
  end)

  local function type_error(text)
    assert(util.write_file(dir .. "/types/t.lua", text))
    local ok, err = types.load_all{reload = true, strict = true}
    assert.is_nil(ok)
    return err
  end

  it("name a misspelt field with the closest known one, at its line", function()
    local err = type_error("return {\n  name = 't',\n  summary = 'x',\n\n  complexty = 'low',\n}\n")
    assert.matches("t%.lua:5: field 'complexty': unknown field %(did you mean: complexity%?%)", err)
  end)

  it("say a required field is missing instead of complaining about its value", function()
    local err = type_error("return {\n  name = 't',\n  summary = 'x',\n}\n")
    assert.matches("t%.lua:1: missing required field 'complexity' %(low, medium or high%)", err)
  end)

  it("point at the line of a nested parameter field", function()
    local err = type_error("return {\n  name = 't', summary = 'x', complexity = 'low',\n  params = {\n" ..
      "    limit = {type = 'integer',\n      mni = 1},\n  },\n}\n")
    assert.matches("t%.lua:5: field 'params%.limit%.mni': unknown field %(did you mean: [^)]*min%?%)", err)
  end)

  it("give a rule file the same checks", function()
    assert(util.write_file(dir .. "/rules/r.lua", "return {\n  name = 'r',\n  summary = 'x',\n" ..
      "  describe = function() return 'd' end,\n  pyspak = function() return '0' end,\n}\n"))
    local ok, err = checks.load_all{reload = true, strict = true}
    assert.is_nil(ok)
    assert.matches("r%.lua:5: field 'pyspak': unknown field %(did you mean: pyspark%?%)", err)
  end)

  it("report each broken plugin once per command, and not again once an error named it", function()
    assert(util.write_file(dir .. "/types/t.lua", "return {name = 't'}\n"))
    assert(util.write_file(dir .. "/types/u.lua", "return 1\n"))
    local buf = {}
    local sink = {write = function(_, ...) for _, s in ipairs({...}) do buf[#buf + 1] = s end end, flush = function() end}
    log.configure{sink = sink, format = "json"}
    types.load_all{reload = true}
    types.load_all{reload = true}
    local _, err = types.get("u")
    assert.matches("type 'u' is broken", err)
    registry.report()
    registry.report()
    log.configure{sink = io.stderr}
    local text = table.concat(buf)
    local _, n = text:gsub("types/t%.lua:1: missing required field", "")
    assert.equal(1, n, text)
    assert.is_nil(text:find("u.lua", 1, true), text)
  end)
end)

describe("one parameter checker", function()
  it("gives types and rules the same words for an unknown parameter", function()
    local params = {limit = {type = "integer", min = 1}}
    local _, terr = registry.resolve_params("type 'x'", params, {limt = 3})
    assert.equal("type 'x' has no parameter 'limt' (did you mean: limit?); allowed: limit", terr)
    local _, rerr = registry.resolve_params("rule 'y'", params, {limt = 3, rule = "y"}, {skip = {rule = true}})
    assert.equal("rule 'y' has no parameter 'limt' (did you mean: limit?); allowed: limit", rerr)
  end)

  it("rejects NaN and infinity for a number", function()
    local _, err = registry.check_value({type = "number"}, 0 / 0, "max")
    assert.matches("max must be a number", err)
    _, err = registry.check_value({type = "number"}, "inf", "max")
    assert.matches("max must be a number", err)
  end)
end)

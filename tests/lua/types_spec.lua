-- The type plugin loader: field checks with file:line, shadowing, broken plugins,
-- context checking against declared parameters.
local paths = require "sparkgen.paths"
local types = require "sparkgen.types"
local util = require "sparkgen.util"
local sys = require "sparkgen.sys"

local HOME = os.getenv("SPARKGEN_HOME")

local function write(path, text)
  assert(util.write_file(path, text))
end

local GOOD = [[
return {
  name = "%s",
  summary = "A user type",
  tables = {"orders"},
  params = {
    limit = {type = "integer", min = 1, max = 50, default = 10},
    period = {type = "enum", values = {"last_month", "all"}, default = "all"},
    as_of = {type = "date"},
    label = {type = "string", required = true},
  },
  complexity = "low",
  checks = {{rule = "non_empty"}},
}
]]

describe("types loader", function()
  local dir
  before_each(function()
    dir = assert(util.tempdir("types-spec"))
    assert(sys.mkdir_p(dir .. "/types"))
    paths.setup{builtin = HOME, user = {dir}}
  end)
  after_each(function()
    util.remove_tree(dir)
    paths.setup{builtin = HOME, user = {}}
  end)

  it("finds a type dropped into a user directory and records its origin", function()
    write(dir .. "/types/my_type.lua", GOOD:format("my_type"))
    local def = assert(types.get("my_type", {reload = true}))
    assert.equal(dir, def.origin)
  end)

  it("lets a user type shadow a built-in one of the same name", function()
    write(dir .. "/types/revenue_by_category.lua", GOOD:format("revenue_by_category"))
    local def = assert(types.get("revenue_by_category", {reload = true}))
    assert.equal("A user type", def.summary)
    assert.same({"built-in"}, def.shadows)
  end)

  it("reports a missing field with file, line and what was expected", function()
    write(dir .. "/types/bad.lua", "return {\n  name = 'bad',\n  summary = 'x',\n  complexity = 'extreme',\n}\n")
    local ok, err = types.load_all{reload = true, strict = true}
    assert.is_nil(ok)
    assert.matches("bad%.lua:4: field 'complexity': expected low, medium or high, got extreme", err)
  end)

  it("reports a syntax error with file and line", function()
    write(dir .. "/types/broken.lua", "return {\n  name = 'broken',,\n}\n")
    local _, err = types.load_all{reload = true, strict = true}
    assert.matches("broken%.lua:2:", err)
  end)

  it("reports an unknown global used by a plugin instead of reading nil", function()
    write(dir .. "/types/glob.lua", "return {name = 'glob', summary = tostrin(1), complexity = 'low'}\n")
    local _, err = types.load_all{reload = true, strict = true}
    assert.matches("glob%.lua:1: unknown name 'tostrin' %(did you mean 'tostring'%?%)", err)
  end)

  it("skips a broken user plugin without taking the others down", function()
    write(dir .. "/types/bad.lua", "return {name = 'other', summary = 'x', complexity = 'low'}\n")
    write(dir .. "/types/my_type.lua", GOOD:format("my_type"))
    local reg = assert(types.load_all{reload = true})
    assert.truthy(reg.by_name.my_type)
    assert.equal(1, #reg.broken)
    assert.matches("field 'name': expected 'bad' %(the file name%)", reg.broken[1].error)
  end)

  it("says a broken type is broken when it is asked for by name", function()
    write(dir .. "/types/bad.lua", "return 42\n")
    types.load_all{reload = true}
    local _, err = types.get("bad")
    assert.matches("type 'bad' is broken: .*must return a table", err)
  end)

  it("suggests the closest names for an unknown type", function()
    types.load_all{reload = true}
    local _, err = types.get("revenue_by_categry")
    assert.matches("unknown type 'revenue_by_categry' %(did you mean: revenue_by_category", err)
  end)
end)

describe("types.resolve_context", function()
  local def
  setup(function()
    def = assert(require("sparkgen.sandbox").run(GOOD:format("t"), "=t", require("sparkgen.sandbox").env()))
  end)

  it("fills defaults and converts values to their declared types", function()
    local ctx = assert(types.resolve_context(def, {label = "x", limit = "5", as_of = "2026-11-15"}))
    assert.same({label = "x", limit = 5, period = "all", as_of = "2026-11-15"}, ctx)
  end)

  it("defaults as_of to today so the run is recorded", function()
    local ctx = assert(types.resolve_context(def, {label = "x"}))
    assert.equal(util.today(), ctx.as_of)
  end)

  it("rejects an unknown parameter and lists the allowed ones", function()
    local _, err = types.resolve_context(def, {label = "x", limt = "5"})
    assert.equal("type 't' has no parameter 'limt' (did you mean: limit?); allowed: as_of, label, limit, period", err)
  end)

  it("rejects a value outside an enum and lists the allowed values", function()
    local _, err = types.resolve_context(def, {label = "x", period = "last_year"})
    assert.matches("must be one of last_month, all, got 'last_year'", err)
  end)

  it("rejects an integer out of range", function()
    local _, err = types.resolve_context(def, {label = "x", limit = "500"})
    assert.matches("parameter 'limit' of type 't' must be <= 50, got 500", err)
  end)

  it("rejects an impossible date", function()
    local _, err = types.resolve_context(def, {label = "x", as_of = "2026-02-30"})
    assert.matches("must be a date YYYY%-MM%-DD, got '2026%-02%-30'", err)
  end)

  it("requires a required parameter", function()
    local _, err = types.resolve_context(def, {})
    assert.matches("type 't' needs parameter 'label'", err)
  end)
end)

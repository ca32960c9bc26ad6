-- The index of plugins known to load (registry.lua): what a listing of rules reads when
-- the files are unchanged, and what it reads again when they are not.
local checks = require "sparkgen.checks"
local paths = require "sparkgen.paths"
local registry = require "sparkgen.registry"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local RULE = [[
return {
  name = "few_rows", summary = "At most a few rows",
  params = {max = {type = "integer", required = true, doc = "the limit"}},
  describe = function(p) return "at most " .. p.max .. " rows" end,
  pyspark = function(p) return "max(df.count() - " .. p.max .. ", 0)" end,
}
]]

describe("the plugin index", function()
  local dir, file, index
  before_each(function()
    dir = assert(util.tempdir("sparkgen-plugin-index"))
    assert(sys.mkdir_p(dir .. "/root/rules"))
    file, index = dir .. "/root/rules/few_rows.lua", dir .. "/cache/plugins.json"
    assert(util.write_file(file, RULE))
    paths.setup{user = {dir .. "/root"}}
    registry.configure{index = index}
    checks.reset()
  end)
  after_each(function()
    paths.setup{user = {}}
    registry.configure{}
    checks.reset()
    util.remove_tree(dir)
  end)

  local function few_rows(list)
    for _, r in ipairs(list) do if r.name == "few_rows" then return r end end
  end

  it("lists an unchanged rule without loading its file", function()
    local first = few_rows(checks.summaries())
    assert.same({name = "few_rows", summary = "At most a few rows", params = {max = {type = "integer", required = true}}}, first)
    -- Other contents now, with the size and modification time it had: the listing
    -- comes from the index, so the file is not read.
    assert(os.execute(("cp -p %s %s.ref"):format(file, file)))
    assert(util.write_file(file, (RULE:gsub("At most a few rows", "AT MOST A FEW ROWS"))))
    assert(os.execute(("touch -r %s.ref %s"):format(file, file)))
    checks.reset()
    assert.same(first, few_rows(checks.summaries()))
  end)

  it("loads a rule again when its file changed, and only when it is used otherwise", function()
    few_rows(checks.summaries())
    assert(util.write_file(file, (RULE:gsub("At most a few rows", "No more than N rows"))))
    assert(os.execute("touch -d @2000000000 " .. file))
    checks.reset()
    assert.equal("No more than N rows", few_rows(checks.summaries()).summary)
    -- the rule's functions come from loading its file when a check is resolved
    local resolved = assert(checks.resolve({{rule = "few_rows", max = 3}}, {}))
    assert.equal("at most 3 rows", resolved[1].description)
  end)

  it("is checked once per process: a batch's requests do not list the plugins again", function()
    local listdir, listed = sys.listdir, 0
    sys.listdir = function(d) listed = listed + 1 return listdir(d) end
    local ok1 = checks.check_all()
    local after_first = listed
    local ok2 = checks.check_all()
    sys.listdir = listdir
    assert.is_true(ok1 and ok2)
    assert.is_true(after_first > 0)
    assert.equal(after_first, listed)
  end)

  it("is rebuilt when it is damaged", function()
    checks.summaries()
    assert(util.write_file(index, "{not json"))
    registry.configure{}
    registry.configure{index = index}
    checks.reset()
    assert.equal("At most a few rows", few_rows(checks.summaries()).summary)
    local doc = assert(util.json_decode(assert(util.read_file(index))))
    assert.equal(registry.INDEX_FORMAT, doc.format)
    assert.is_table(doc.good[file])
  end)
end)

-- The bytecode cache main.lua installs in front of the Lua file searcher.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local function cache_dir()
  local base = os.getenv("SPARKGEN_CACHE_DIR")
  if not base or base == "" then base = (os.getenv("XDG_CACHE_HOME") or (os.getenv("HOME") .. "/.cache")) .. "/sparkgen" end
  return base .. "/bytecode"
end

local function entries_for(stem)
  local out = {}
  for _, f in ipairs(sys.listdir(cache_dir()) or {}) do
    if f:find(stem, 1, true) then out[#out + 1] = f end
  end
  return out
end

describe("bytecode cache", function()
  local dir, saved_path, n
  before_each(function()
    dir = assert(util.tempdir("bytecode-spec"))
    saved_path = package.path
    package.path = dir .. "/?.lua;" .. package.path
    n = (n or 0) + 1
  end)
  after_each(function()
    package.path = saved_path
    util.remove_tree(dir)
  end)

  local function module(name, text)
    assert(util.write_file(dir .. "/" .. name .. ".lua", text))
    package.loaded[name] = nil
    return require(name)
  end

  it("stores a compiled module and serves it on the next require", function()
    local name = "bc_store_" .. n
    assert.equal(1, module(name, "return 1"))
    assert.equal(1, #entries_for(name .. ".lua."))
    package.loaded[name] = nil
    assert.equal(1, require(name))
  end)

  it("picks up an edited module and drops the old entry", function()
    local name = "bc_edit_" .. n
    module(name, "return 1")
    assert.equal(22, module(name, "return 22")) -- a different size: a different key
    assert.equal(1, #entries_for(name .. ".lua."))
  end)

  it("keeps file and line in errors raised by a cached chunk", function()
    local name = "bc_err_" .. n
    module(name, "local M = {}\nfunction M.f()\n  error('boom')\nend\nreturn M")
    package.loaded[name] = nil
    local m = require(name) -- from the cache this time
    local ok, err = pcall(m.f)
    assert.is_false(ok)
    assert.matches(name .. "%.lua:3: boom", err)
  end)

  it("recompiles from source when an entry is damaged", function()
    local name = "bc_bad_" .. n
    module(name, "return 7")
    local entry = cache_dir() .. "/" .. entries_for(name .. ".lua.")[1]
    assert(util.write_file(entry, "\27Lua garbage"))
    package.loaded[name] = nil
    assert.equal(7, require(name))
  end)
end)

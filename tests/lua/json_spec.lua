-- json_spec.lua — util.json_encode (src/json.c) writes exactly what the Lua encoder it
-- replaced wrote (tests/lib/json_reference.lua): cache keys, history rows and the
-- recordings in examples/eval depend on every byte.
local util = require "sparkgen.util"
local cjson = require "cjson.safe"
local reference = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/json_reference.lua")

local function same(v, indent)
  assert.equal(reference.encode(v, indent, util.ARRAY_MT), util.json_encode(v, indent))
end

describe("util.json_encode", function()
  it("escapes every byte as cjson does, except that / stays /", function()
    local all = {}
    for b = 0, 255 do all[#all + 1] = string.char(b) end
    local s = table.concat(all)
    same(s)
    assert.equal('"a/b\\\\c\\"d\\n"', util.json_encode('a/b\\c"d\n'))
  end)

  it("sorts object keys bytewise at every level and marks arrays", function()
    local v = {b = 1, a = {d = util.array({}), c = {}}, ["B"] = {3, 2, 1}, [""] = "empty"}
    assert.equal('{"":"empty","B":[3,2,1],"a":{"c":{},"d":[]},"b":1}', util.json_encode(v))
    same(v, 2)
  end)

  it("writes integral numbers as integers and leaves the others to cjson", function()
    local nums = {0, -0.0, 3.0, -7, 2^53 - 1, 2^53, 1e15, 99999999999999, 100000000000000, math.maxinteger,
                  math.mininteger, 0.1, -2.5e-7, 1e300, 1 / 0, -1 / 0, 0 / 0, 123456789012345678}
    for _, x in ipairs(nums) do same(x) same({x}) end
  end)

  it("encodes tables that are not arrays by their keys' string forms", function()
    same({[1] = "a", [3] = "c"})
    same({[1] = "a", x = "b"})
    same({[true] = 1, [2.5] = 2, [10] = 3, [2] = 4})
    same({cjson.null, util.json_null, true, false})
    same({f = print, co = coroutine.create(print)})
  end)

  it("agrees with the reference on generated values, compact and indented", function()
    math.randomseed(20261204)
    local words = {"a", "code", "é", "x/y", "tab\t", "q\"", "\\", "ключ", "", "\0z", "\127", "\255"}
    local function gen(depth)
      local r = math.random(1, depth > 3 and 5 or 8)
      if r == 1 then return words[math.random(#words)] .. math.random(0, 9) end
      if r == 2 then return math.random(-1000, 1000) end
      if r == 3 then return math.random() * 1e6 end
      if r == 4 then return math.random(0, 1) == 1 end
      if r == 5 then return util.json_null end
      local t = r == 8 and util.array({}) or {}
      for i = 1, math.random(0, 6) do
        if r == 6 then t[words[math.random(#words)] .. i] = gen(depth + 1) else t[i] = gen(depth + 1) end
      end
      return t
    end
    for _ = 1, 300 do
      local v = gen(0)
      same(v)
      same(v, 2)
    end
  end)

  it("refuses a table that contains itself", function()
    local t = {}
    t.self = t
    local ok, err = pcall(util.json_encode, t)
    assert.is_false(ok)
    assert.matches("nested more than 1000 levels", err, 1, true)
  end)
end)

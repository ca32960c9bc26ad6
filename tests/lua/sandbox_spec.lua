-- The sandbox (sandbox.lua over src/sandbox.c): what sandboxed code sees, the
-- instruction and memory budgets, and that neither leaks into the engine's own code.
local sandbox = require "sparkgen.sandbox"
local core = require "sparkgen.sandbox_core"
local template = require "sparkgen.template"

local function chunk(text, name, vars)
  return assert(sandbox.load(text, "@" .. (name or "plugin.lua"), sandbox.env{vars = vars}))
end

-- Engine work of about n VM instructions.
local function busy(n)
  local x = 0
  for i = 1, n // 4 do x = x + i end
  return x
end

describe("sandbox budgets", function()
  before_each(function() sandbox.configure{instructions = 1e5, memory_mb = 8} end)
  after_each(function() sandbox.configure{} end)

  it("stops a loop with the file and line of the loop", function()
    local ok, err, kind = sandbox.pcall(chunk("local a = 1\nwhile true do a = a + 1 end\n"))
    assert.is_false(ok)
    assert.equal("plugin.lua:2: took more than 100000 instructions (a loop?)", err)
    assert.equal("instructions", kind)
  end)

  it("cannot be escaped by catching the error with pcall", function()
    local ok, err = sandbox.pcall(chunk("while true do pcall(function() while true do end end) end"))
    assert.is_false(ok)
    assert.matches("took more than 100000 instructions", err)
  end)

  it("is removed after the call: engine code runs unbudgeted", function()
    assert.is_false((sandbox.pcall(chunk("while true do end"))))
    assert.is_nil(core.limits())
    assert.is_number(busy(1e6)) -- ten times the budget
  end)

  it("suspends for engine functions lent through trusted, and restores after", function()
    local seen
    local work = sandbox.trusted(function() seen = core.limits(); return busy(1e6) end)
    local ok, n = sandbox.pcall(chunk("local n = work()\nlocal m = 0\nreturn n", "lent.lua", {work = work}))
    assert.is_true(ok, n)
    assert.is_number(n)
    assert.is_nil(seen)
    ok = sandbox.pcall(chunk("work()\nwhile true do end", "lent.lua", {work = work}))
    assert.is_false(ok)
  end)

  it("gives a nested call its own budget and restores the outer one", function()
    local inner_err
    local nested = sandbox.trusted(function()
      local _, err = sandbox.pcall(chunk("while true do end", "inner.lua"))
      inner_err = err
      return true
    end)
    local ok, err = sandbox.pcall(chunk("nested()\nwhile true do end", "outer.lua", {nested = nested}))
    assert.is_false(ok)
    assert.matches("^inner%.lua:1: took more", inner_err)
    assert.matches("^outer%.lua:2: took more", err)
  end)

  it("bounds memory: a growing table is one error naming the budget", function()
    local ok, err, kind = sandbox.pcall(chunk('local t = {}\nwhile true do t[#t+1] = ("x"):rep(1e5) end'))
    assert.is_false(ok)
    assert.matches("^plugin%.lua:%d*:? ?used more than 8 MB of memory", err)
    assert.equal("memory", kind)
  end)

  it("bounds memory: one huge string fails without reaching the engine's limitless state", function()
    local ok, err = sandbox.pcall(chunk('local s = ("x"):rep(5e7)'))
    assert.is_false(ok)
    assert.matches("used more than 8 MB of memory", err)
    local big = ("y"):rep(5e7) -- the engine itself is not limited afterwards
    assert.equal(5e7, #big)
  end)

  it("reports an error object that is not a string without running its metamethods", function()
    local ok, err = sandbox.pcall(chunk('error(setmetatable({}, {__tostring = function() while true do end end}))'))
    assert.is_false(ok)
    assert.equal("(error object is a table value)", err)
  end)
end)

describe("sandbox environment", function()
  local function fails(text, pattern)
    local ok, err = sandbox.pcall(chunk(text))
    assert.is_false(ok)
    assert.matches(pattern, err)
  end

  it("has no io, load, require, debug, package, collectgarbage, rawset or coroutine", function()
    for _, name in ipairs({"io", "load", "loadstring", "dofile", "require", "debug", "package",
                           "collectgarbage", "rawset", "coroutine", "loadfile"}) do
      fails("return " .. name, "unknown name '" .. name .. "'")
    end
    fails("return os.execute", "os has no field 'execute'")
    fails("return os.getenv", "os has no field 'getenv'")
    fails("return string.dump", "string has no field 'dump'")
  end)

  it("names an unknown global with the closest name", function()
    fails("return tostrig(1)", "^plugin%.lua:1: unknown name 'tostrig' %(did you mean 'tostring'%?%)")
  end)

  it("keeps library tables read-only, for the engine and for every other plugin", function()
    local upper = string.upper
    fails("string.upper = function() return 'x' end", "string is read%-only: cannot set string%.upper")
    fails("table.insert = nil", "table is read%-only")
    fails("getmetatable('').__index.upper = nil", "attempt to index a nil value")
    fails("setmetatable(string, {})", "protected metatable")
    assert.equal(upper, string.upper)
    assert.equal("AB", ("ab"):upper())
    -- a plugin's own global `string` is its own: the next plugin sees the library
    local ok = sandbox.pcall(chunk("string = {upper = function() return 'x' end}"))
    assert.is_true(ok)
    local ok2, v = sandbox.pcall(chunk("return string.upper('ab')"))
    assert.is_true(ok2)
    assert.equal("AB", v)
  end)

  it("iterates a library copy with pairs and measures it with #", function()
    local ok, n = sandbox.pcall(chunk("local n = 0 for _ in pairs(math) do n = n + 1 end return n"))
    assert.is_true(ok)
    assert.is_true(n > 10)
  end)

  it("refuses __gc (it would run later, outside the budget)", function()
    fails("setmetatable({}, {__gc = function() end})", "__gc is not allowed")
  end)

  it("returns only metatables the sandboxed code set itself", function()
    local ok, same, str = sandbox.pcall(chunk("local mt = {} local t = setmetatable({}, mt) " ..
      "return getmetatable(t) == mt, getmetatable('')"))
    assert.is_true(ok)
    assert.is_true(same)
    assert.is_nil(str)
  end)

  it("copies returned values into plain tables (no metamethod runs in the engine)", function()
    local ok, v = sandbox.pcall(chunk("return setmetatable({a = {b = 1}}, {__index = function() while true do end end})"))
    assert.is_true(ok)
    local plain = assert(sandbox.plain(v))
    assert.is_nil(getmetatable(plain))
    assert.is_nil(plain.missing)
    assert.equal(1, plain.a.b)
  end)
end)

describe("sandbox.literal", function()
  it("reads a Lua table literal", function()
    assert.same({time_period = "ytd", limit = 5}, sandbox.literal('{time_period = "ytd", limit = 5}', "--context"))
  end)

  it("reports a bare word as the string it was meant to be", function()
    local t, err = sandbox.literal("{time_period = ytd}", "--context")
    assert.is_nil(t)
    assert.matches([[^unknown name 'ytd' — did you mean "ytd"%?]], err)
  end)

  it("sees no library at all", function()
    local _, err = sandbox.literal("{x = os.time()}", "--context")
    assert.matches("unknown name 'os'", err)
  end)
end)

describe("templates in the sandbox", function()
  it("render like pl.template: % lines are Lua, $(expr) inserts", function()
    local out = assert(template.render_string("a $(x)\n% for i = 1, 2 do\n- $(i)$(nil)\n% end\nend $(y + 1)",
      {x = "X", y = 1}, "=t"))
    assert.equal("a X\n- 1\n- 2\nend 2", out)
  end)

  it("report an error at the template's own line", function()
    local _, err = template.render_string("line 1\nline 2 $(x)\n%\n% local y = nil + 1\n", {x = 1}, "@my.md")
    assert.matches("^my%.md:4: attempt to perform arithmetic on a nil value", err)
  end)

  it("name an unknown variable with the closest known one", function()
    local _, err = template.render_string("one\ntwo $(contxt.a)\n", {context = {}}, "@p.md")
    assert.matches("^p%.md:2: unknown name 'contxt' %(did you mean 'context'%?%)", err)
  end)

  it("read the engine's tables through read-only views they cannot change", function()
    local context = {as_of = "2026-01-01", list = {"a", "b"}}
    local out = assert(template.render_string("$(#list) $(table.concat(list, ','))\n% for k, v in pairs(context) do\n" ..
      "% end\n$(context.as_of)", {context = context, list = context.list}, "=views"))
    assert.equal("2 a,b\n2026-01-01", out)
    local _, err = template.render_string("% context.as_of = 'x'\n", {context = context}, "@c.md")
    assert.matches("c%.md:1: cannot change 'as_of'", err)
    _, err = template.render_string("% setmetatable(context.list, {__index = function() while true do end end})\n",
      {context = context}, "@d.md")
    assert.matches("d%.md:1: .*protected metatable", err)
    assert.is_nil(getmetatable(context.list))
    assert.equal("2026-01-01", context.as_of)
  end)

  it("cannot reach io or os.execute", function()
    local _, err = template.render_string("% io.write('x')\n", {}, "@a.md")
    assert.matches("a%.md:1: unknown name 'io'", err)
    _, err = template.render_string("\n% os.execute('true')\n", {}, "@b.md")
    assert.matches("b%.md:2: os has no field 'execute'", err)
  end)
end)

-- End-to-end: what a request loads. It loads the plugins it uses; the others are only
-- vouched for through the index of plugins known to load (registry.lua): an unchanged
-- one is not read again, a new, changed or broken one is loaded (and reported).
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local SHOP = cli.SHOP

local GOOD = "return {name = 'weekly', summary = 'Weekly orders', complexity = 'low'}\n"
local BROKEN = "return {name = 'weekly', summary = 'Weekly orders', complexity = 'lox'}\n" -- same size

describe("a free-form request", function()
  local dir, env, file
  before_each(function()
    dir = cli.tempdir()
    assert(os.execute("mkdir -p " .. cli.quote(dir .. "/root/types") .. " " .. cli.quote(dir .. "/cache")))
    env = {SPARKGEN_PATH = dir .. "/root", XDG_CACHE_HOME = dir .. "/cache"}
    file = dir .. "/root/types/weekly.lua"
    cli.write(file, GOOD)
  end)
  after_each(function() cli.rmdir(dir) end)

  local function prompt()
    local r = cli.run({"prompt", "orders", "refunds per week", "--schema", SHOP}, {env = env})
    assert.equal(0, r.status, r.stderr)
    return r
  end
  -- The file's contents replaced, its size and modification time kept.
  local function replace_keeping_stat(text)
    assert(os.execute(("cp -p %s %s.ref"):format(cli.quote(file), cli.quote(file))))
    cli.write(file, text)
    assert(os.execute(("touch -r %s.ref %s"):format(cli.quote(file), cli.quote(file))))
  end

  it("does not read a type it does not use once that type is known to load", function()
    assert.equal("", prompt().stderr)
    replace_keeping_stat(BROKEN)
    -- broken now, but unchanged by its size and time: not read, so nothing to report
    assert.equal("", prompt().stderr)
  end)

  it("loads a type whose file changed, and reports it when it is broken", function()
    assert.equal("", prompt().stderr)
    cli.write(file, BROKEN)
    assert(os.execute("touch -d @2000000000 " .. cli.quote(file)))
    local r = prompt()
    assert.matches("weekly%.lua:1: field 'complexity'", r.stderr)
    -- and again on the next run: a broken plugin is never taken as known
    assert.matches("weekly%.lua:1: field 'complexity'", prompt().stderr)
  end)

  it("loads every type when the index is damaged", function()
    assert.equal("", prompt().stderr)
    replace_keeping_stat(BROKEN)
    cli.write(dir .. "/cache/sparkgen/plugins.json", "{not json")
    assert.matches("weekly%.lua:1: field 'complexity'", prompt().stderr)
  end)
end)

describe("a cache-hit generate", function()
  local KEY = "sk-ant-test-startup-not-a-real-key"
  local mock = cli.with_mock{api_key = KEY}
  local home = cli.temp_home()
  -- LD_DEBUG=files: the dynamic loader names each library it maps, on stderr.
  local function generate()
    return mock.run({"generate", "orders", "monthly orders and revenue", "--schema", SHOP, "--json"},
                    {env = {XDG_CACHE_HOME = home.dir, LD_DEBUG = "files"}})
  end

  it("does not open the HTTP transport (libcurl and the libraries it needs)", function()
    local first = generate()
    assert.equal(0, first.status, first.stderr)
    assert.matches("file=libcurl", first.stderr, 1, true) -- the model was asked: it is loaded
    local r = generate()
    assert.equal(0, r.status, r.stderr)
    assert.matches('"cached": true', r.stdout, 1, true)
    assert.is_nil(r.stderr:find("file=libcurl", 1, true), "a cache hit loaded libcurl")
  end)
end)

-- The history of model generations (against the mock Anthropic server): the prompt,
-- tokens and model are recorded; a cached answer is recorded too, with nothing spent.
package.path = os.getenv("SPARKGEN_HOME") .. "/tests/mock/?.lua;" .. package.path
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local util = require "sparkgen.util"

local KEY = "sk-ant-test-0123456789-do-not-leak"

describe("sparkgen log (model generations)", function()
  local mock, home
  setup(function() mock = require("mock").start{api_key = KEY} end)
  teardown(function() if mock then mock.stop() end end)
  before_each(function()
    mock.reset()
    home = cli.tempdir()
  end)
  after_each(function() cli.rmdir(home) end)
  local function run(argv)
    local r = cli.run(argv, {env = {ANTHROPIC_API_KEY = KEY, ANTHROPIC_BASE_URL = mock.url,
                                    XDG_CACHE_HOME = home .. "/cache", XDG_DATA_HOME = home .. "/data"}})
    assert.is_nil((r.stdout .. r.stderr):find(KEY, 1, true), "the API key leaked")
    return r
  end

  it("records the prompt, the model and the tokens, and a cached repeat with none spent", function()
    local argv = {"generate", "orders", "monthly orders and revenue", "--schema", cli.SHOP}
    assert.equal(0, run(argv).status)
    assert.equal(0, run(argv).status)
    local rows = assert(util.json_decode(run({"log", "--json"}).stdout))
    assert.equal(2, #rows)
    local cached, first = rows[1], rows[2]
    assert.equal("anthropic", first.provider)
    assert.is_string(first.model)
    assert.equal("monthly orders and revenue", first.text)
    assert.truthy(first.input_tokens > 0)
    assert.is_false(first.cached)
    assert.is_true(cached.cached)
    assert.equal(0, cached.input_tokens)
    local show = run({"log", "show", tostring(math.tointeger(first.id))})
    assert.equal(0, show.status, show.stderr)
    assert.matches("\n%-%-%- prompt %(sha256 %x+%)\n%[system%]\n", show.stdout)
    assert.matches("[user]", show.stdout, 1, true)
    assert.matches("monthly orders and revenue", show.stdout, 1, true)
    assert.is_nil(show.stdout:find(KEY, 1, true))
  end)
end)

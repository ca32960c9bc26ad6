-- The history of model generations (against the mock Anthropic server): the prompt,
-- tokens and model are recorded; a cached answer is recorded too, with nothing spent.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local util = require "sparkgen.util"

local KEY = "sk-ant-test-0123456789-do-not-leak"

describe("sparkgen log (model generations)", function()
  local mock = cli.with_mock{api_key = KEY}
  local home = cli.temp_home()
  local function run(argv)
    return mock.run(argv, {env = {XDG_CACHE_HOME = home.dir .. "/cache", XDG_DATA_HOME = home.dir .. "/data"}})
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

-- End-to-end: `sparkgen prompt` prints the request a model would get, and a real
-- `sparkgen generate` against the mock sends exactly that, caches it without the key,
-- and `sparkgen cache` reports and clears what was stored.
local cjson = require "cjson.safe"
local sys = require "sparkgen.sys"
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local SHOP = cli.SHOP

package.path = cli.HOME .. "/tests/mock/?.lua;" .. package.path

local FAKE_KEY = "sk-ant-cli-test-KEY-987654321"

local function prompt_cmd(extra, opts)
  local argv = {"prompt", "--schema", SHOP}
  for _, a in ipairs(extra) do argv[#argv + 1] = a end
  return cli.run(argv, opts)
end

-- The key travels in the environment (inherited), never on a command line.
local function with_key(fn)
  sys.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
  local ok, err = pcall(fn)
  sys.setenv("ANTHROPIC_API_KEY", nil)
  if not ok then error(err, 0) end
end

local function has_cache()
  return type(require("sparkgen.cache").open) == "function"
end

local function grep_tree(dir, needle)
  local _, _, code = os.execute(("grep -rqF -- %s %s"):format(cli.quote(needle), cli.quote(dir)))
  return code == 0
end

describe("sparkgen prompt", function()
  it("prints the Anthropic request body with the schema block marked for caching", function()
    local r = prompt_cmd({"orders", "revenue_by_category", "--context", "time_period=last_month"})
    assert.equal(0, r.status, r.stderr)
    local body = assert(cjson.decode(r.stdout))
    local content = body.messages[1].content
    assert.matches("^<schema>", content[1].text)
    assert.same({type = "ephemeral"}, content[1].cache_control)
    assert.matches("revenue_by_category", content[2].text, 1, true)
    assert.same({type = "tool", name = "emit_code"}, body.tool_choice)
  end)
  it("never prints the API key", function()
    with_key(function()
      local r = prompt_cmd({"--url", "orders", "monthly revenue per category"})
      assert.equal(0, r.status, r.stderr)
      assert.is_nil((r.stdout .. r.stderr):find(FAKE_KEY, 1, true))
    end)
  end)
  it("honours --provider openai and --model", function()
    local r = prompt_cmd({"--provider", "openai", "--model", "qwen2.5-coder", "--url", "orders", "top customers"})
    assert.equal(0, r.status, r.stderr)
    local url, json = r.stdout:match("^(POST [^\n]+)\n(.*)$")
    assert.equal("POST http://127.0.0.1:11434/v1/chat/completions", url)
    local body = assert(cjson.decode(json))
    assert.equal("qwen2.5-coder", body.model)
    assert.equal("function", body.tools[1].type)
  end)
  it("uses a prompt file shadowed in a user root", function()
    local root = cli.tempdir()
    assert(os.execute("mkdir -p " .. cli.quote(root .. "/prompts")))
    cli.write(root .. "/prompts/system.md", "Our team's own system prompt.\n")
    local r = prompt_cmd({"orders", "top customers"}, {env = {SPARKGEN_PATH = root}})
    cli.rmdir(root)
    assert.equal(0, r.status, r.stderr)
    assert.equal("Our team's own system prompt.\n", cjson.decode(r.stdout).system[1].text)
  end)
  it("fails with one line for an unknown table", function()
    local r = prompt_cmd({"ordrs", "top customers"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr))
  end)
end)

describe("sparkgen prompt --count", function()
  local mock
  setup(function() mock = require("mock").start{api_key = FAKE_KEY} end)
  teardown(function() if mock then mock.stop() end end)
  local function count(extra, key)
    local env = {ANTHROPIC_API_KEY = key or FAKE_KEY, ANTHROPIC_BASE_URL = mock.url}
    local argv = {"orders", "revenue_by_category", "--count"}
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return prompt_cmd(argv, {env = env})
  end

  it("asks the free count_tokens endpoint and prices the answer", function()
    mock.reset()
    local r = count({"--model", "claude-sonnet-4-5", "--json"})
    assert.equal(0, r.status, r.stderr)
    local out = cjson.decode(r.stdout)
    local seen = mock.requests()
    assert.equal(1, #seen)
    assert.equal("/v1/messages/count_tokens", seen[1].path)
    assert.is_nil(seen[1].body.max_tokens)
    assert.truthy(out.input_tokens > 0)
    assert.near(out.input_tokens * 3 / 1e6, out.input_cost_usd, 1e-12)
    assert.near(8192 * 15 / 1e6, out.max_output_cost_usd, 1e-12)
  end)
  it("prints the count and says when the model has no price", function()
    local r = count()
    assert.equal(0, r.status, r.stderr)
    assert.matches("^%d+ input tokens for claude%-sonnet%-5\ncost: price unknown for model 'claude%-sonnet%-5'", r.stdout)
  end)
  it("reports a rejected key in one line without printing it", function()
    local r = count(nil, "sk-ant-wrong-one")
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("API key was rejected", r.stderr, 1, true)
    assert.is_nil((r.stdout .. r.stderr):find("sk-ant-wrong-one", 1, true))
  end)
end)

describe("generate against the mock", function()
  local mock
  setup(function() mock = require("mock").start{api_key = FAKE_KEY} end)
  teardown(function() if mock then mock.stop() end end)
  before_each(function() mock.reset() end)

  local function gen(cache_home, extra)
    local argv = {"generate", "--schema", SHOP, "--provider", "anthropic", "orders", "monthly orders and revenue"}
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return cli.run(argv, {env = {ANTHROPIC_BASE_URL = mock.url, XDG_CACHE_HOME = cache_home, SPARKGEN_LOG = "info"}})
  end

  it("sends exactly the body that sparkgen prompt prints", function()
    local home = cli.tempdir()
    -- Only the first request matters here (what happens after the answer is not).
    with_key(function() gen(home, {"--no-cache"}) end)
    local sent = assert(mock.requests()[1], "generate sent nothing").body
    local shown = prompt_cmd({"--compact", "orders", "monthly orders and revenue"}, {env = {ANTHROPIC_BASE_URL = mock.url}})
    cli.rmdir(home)
    assert.same(cjson.decode(shown.stdout), sent)
  end)
  it("answers the second identical request from the cache with no HTTP and no key on disk", function()
    if not has_cache() then pending("sparkgen.cache not built yet") return end
    local home = cli.tempdir()
    local first, second
    with_key(function()
      first = gen(home)
      second = gen(home)
    end)
    local sent = #mock.requests()
    local leaked = grep_tree(home, FAKE_KEY)
    cli.rmdir(home)
    assert.equal(1, sent, first.stderr)
    assert.matches('"op":"llm.cache"', second.stderr, 1, true)
    assert.matches('"status":"hit"', second.stderr, 1, true)
    assert.is_false(leaked)
    assert.is_nil((first.stderr .. second.stderr):find(FAKE_KEY, 1, true))
  end)
end)

describe("sparkgen cache", function()
  it("reports, clears and prunes the response cache", function()
    if not has_cache() then pending("sparkgen.cache not built yet") return end
    local home = cli.tempdir()
    local env = {XDG_CACHE_HOME = home}
    -- Put one entry in through the primitive, as llm does.
    local cache = require "sparkgen.cache"
    local h = assert(cache.open{dir = home .. "/sparkgen/responses", max_entries = 10, max_bytes = 1 << 20, lru_entries = 4})
    assert(h:put(("a"):rep(64), "{}", 3600))
    local stats = cli.run({"cache", "stats", "--json"}, {env = env})
    assert.equal(0, stats.status, stats.stderr)
    local doc = assert(cjson.decode(stats.stdout))
    assert.equal("responses", doc.caches[1].name)
    assert.equal(1, doc.caches[1].stats.entries)
    local text = cli.run({"cache", "stats"}, {env = env})
    assert.matches("^responses +1 entries", text.stdout)
    assert.equal(0, cli.run({"cache", "prune"}, {env = env}).status)
    local cleared = cli.run({"cache", "clear", "--json"}, {env = env})
    cli.rmdir(home)
    assert.equal(0, cleared.status, cleared.stderr)
    assert.equal(0, cjson.decode(cleared.stdout).caches[1].stats.entries)
  end)

  it("prunes schema snapshots older than schema_ttl and clears the rest", function()
    local home = cli.tempdir()
    local env = {XDG_CACHE_HOME = home}
    local base = home .. "/sparkgen/schema/"
    for name, epoch in pairs({fresh = os.time(), old = os.time() - 10 * 24 * 3600}) do
      assert(os.execute("mkdir -p " .. cli.quote(base .. name)))
      cli.write(base .. name .. "/meta.json",
        ('{"captured_epoch": %d, "source": {}, "buckets": 1, "key": "k"}'):format(epoch))
      cli.write(base .. name .. "/index.json", '{"tables": []}')
    end
    local stats = cjson.decode(cli.run({"cache", "stats", "--which", "schema", "--json"}, {env = env}).stdout)
    local pruned = cli.run({"cache", "prune", "--which", "schema"}, {env = env})
    local after = cjson.decode(cli.run({"cache", "stats", "--which", "schema", "--json"}, {env = env}).stdout)
    local cleared = cjson.decode(cli.run({"cache", "clear", "--which", "schema", "--json"}, {env = env}).stdout)
    cli.rmdir(home)
    assert.equal(2, stats.caches[1].stats.entries)
    assert.equal(1, stats.caches[1].stats.stale)
    assert.matches("^schema +removed 1; 1 entries", pruned.stdout)
    assert.equal(1, after.caches[1].stats.entries)
    assert.equal(0, cleared.caches[1].stats.entries)
  end)
end)

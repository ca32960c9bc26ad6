-- End-to-end: `sparkgen prompt` prints the request a model would get, and a real
-- `sparkgen generate` against the mock sends exactly that, caches it without the key,
-- and `sparkgen cache` reports and clears what was stored.
local cjson = require "cjson.safe"
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local SHOP = cli.SHOP

local FAKE_KEY = "sk-ant-cli-test-KEY-987654321"

local prompt_cmd = cli.command("prompt", "--schema", SHOP)

-- The key travels in the environment (inherited), never on a command line.
local function with_key(fn) return cli.with_env({ANTHROPIC_API_KEY = FAKE_KEY}, fn) end

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
  local mock = cli.with_mock{api_key = FAKE_KEY}
  local function count(extra, key)
    local argv = {"orders", "revenue_by_category", "--count"}
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return prompt_cmd(argv, {env = mock.env{ANTHROPIC_API_KEY = key or FAKE_KEY}})
  end

  it("asks the free count_tokens endpoint and prices the answer", function()
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
  local mock = cli.with_mock{api_key = FAKE_KEY}
  local home = cli.temp_home()

  -- (mock.run: the key inherited, and in no output)
  local function gen(extra)
    local argv = {"generate", "--schema", SHOP, "--provider", "anthropic", "orders", "monthly orders and revenue"}
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return mock.run(argv, {env = {XDG_CACHE_HOME = home.dir, SPARKGEN_LOG = "info"}})
  end

  it("sends exactly the body that sparkgen prompt prints", function()
    -- Only the first request matters here (what happens after the answer is not).
    gen({"--no-cache"})
    local sent = assert(mock.requests()[1], "generate sent nothing").body
    local shown = prompt_cmd({"--compact", "orders", "monthly orders and revenue"}, {env = mock.env()})
    assert.same(cjson.decode(shown.stdout), sent)
  end)
  it("answers the second identical request from the cache with no HTTP and no key on disk", function()
    if not has_cache() then pending("sparkgen.cache not built yet") return end
    local first, second = gen(), gen()
    assert.equal(1, #mock.requests(), first.stderr)
    assert.matches('"op":"llm.cache"', second.stderr, 1, true)
    assert.matches('"status":"hit"', second.stderr, 1, true)
    assert.is_false(grep_tree(home.dir, FAKE_KEY))
  end)
end)

describe("sparkgen cache", function()
  local home = cli.temp_home()
  local function run(argv) return cli.run(argv, {env = {XDG_CACHE_HOME = home.dir}}) end

  it("reports, clears and prunes the response cache", function()
    if not has_cache() then pending("sparkgen.cache not built yet") return end
    -- Put one entry in through the primitive, as llm does.
    local cache = require "sparkgen.cache"
    local h = assert(cache.open{dir = home.dir .. "/sparkgen/responses", max_entries = 10, max_bytes = 1 << 20, lru_entries = 4})
    assert(h:put(("a"):rep(64), "{}", 3600))
    local stats = run({"cache", "stats", "--json"})
    assert.equal(0, stats.status, stats.stderr)
    local doc = assert(cjson.decode(stats.stdout))
    assert.equal("responses", doc.caches[1].name)
    assert.equal(1, doc.caches[1].stats.entries)
    local text = run({"cache", "stats"})
    assert.matches("^responses +1 entries", text.stdout)
    assert.equal(0, run({"cache", "prune"}).status)
    local cleared = run({"cache", "clear", "--json"})
    assert.equal(0, cleared.status, cleared.stderr)
    assert.equal(0, cjson.decode(cleared.stdout).caches[1].stats.entries)
  end)

  it("prunes schema snapshots older than schema_ttl and clears the rest", function()
    local base = home.dir .. "/sparkgen/schema/"
    for name, epoch in pairs({fresh = os.time(), old = os.time() - 10 * 24 * 3600}) do
      cli.write(base .. name .. "/meta.json",
        ('{"captured_epoch": %d, "source": {}, "buckets": 1, "bucket_at": "0000000000000000000000", "key": "k"}'):format(epoch))
      cli.write(base .. name .. "/index.json", '{"tables": []}')
    end
    local stats = cjson.decode(run({"cache", "stats", "--which", "schema", "--json"}).stdout)
    local pruned = run({"cache", "prune", "--which", "schema"})
    local after = cjson.decode(run({"cache", "stats", "--which", "schema", "--json"}).stdout)
    local cleared = cjson.decode(run({"cache", "clear", "--which", "schema", "--json"}).stdout)
    assert.equal(2, stats.caches[1].stats.entries)
    assert.equal(1, stats.caches[1].stats.stale)
    assert.matches("^schema +removed 1; 1 entries", pruned.stdout)
    assert.equal(1, after.caches[1].stats.entries)
    assert.equal(0, cleared.caches[1].stats.entries)
  end)
end)

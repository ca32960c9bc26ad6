-- End-to-end: Message Batches against the mock — `sparkgen batch FILE --async`, `batch
-- status ID`, `batch collect ID` give the same per-request results as a synchronous
-- batch, errored and expired items included, resume after an interrupted collect, and
-- feed the response cache.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local cjson = require "cjson"

local KEY = "sk-ant-test-batches-do-not-leak"
local SHOP = cli.SHOP
local PRICED = 'return {prices = {["claude-sonnet-5"] = {input = 3, output = 15, cache_write = 3.75, cache_read = 0.30, batch_discount = 0.5}}}\n'

local mock = cli.with_mock{api_key = KEY}
local home = cli.temp_home{config = PRICED}

local function run(argv, cache)
  return mock.run(argv, {cwd = home.dir, env = {XDG_CACHE_HOME = cache or (home.dir .. "/cache")}})
end

local function requests_file(n)
  local lines = {}
  for i = 1, n do
    lines[i] = cjson.encode{source = "orders", type = ("orders and revenue per month, variant %d"):format(i)}
  end
  local path = home.dir .. "/batch.jsonl"
  cli.write(path, table.concat(lines, "\n") .. "\n")
  return path
end

local BAD = {reply = {code = 'result_df = read_table("orders").select("order_total")\n', description = "x",
                      tables_used = {"orders"}, estimated_complexity = "low", validation_checks = {}}}

-- The answers for 20 requests and one repair: request 3 first fails the checks; item 5
-- errors and item 9 expires in the Message Batch (`async`), or 5 is a 400 and 9 a plain
-- answer when synchronous.
local function script(async)
  local steps = {}
  for i = 1, 21 do steps[i] = {} end
  steps[3] = BAD
  steps[5] = async and {batch_result = "errored", status = 400, message = "bad item"} or {status = 400, message = "bad item"}
  if async then steps[9] = {batch_result = "expired"} end
  return steps
end

local function paths(method, path)
  local n = 0
  for _, r in ipairs(mock.requests()) do
    if r.method == method and r.path == path then n = n + 1 end
  end
  return n
end

describe("Message Batches", function()
  it("submits the requests as one batch, prints its id and sends nothing else", function()
    local r = run({"batch", requests_file(3), "--schema", SHOP, "--async"})
    assert.equal(0, r.status, r.stderr)
    local id = r.stdout:match("^(msgbatch_%w+)\n$")
    assert.truthy(id, r.stdout)
    local seen = mock.requests()
    assert.equal(1, #seen)
    assert.equal("/v1/messages/batches", seen[1].path)
    local items = seen[1].body.requests
    assert.equal(3, #items)
    local ids = {}
    for _, it in ipairs(items) do
      assert.matches("^r%d+%-%x+$", it.custom_id)
      ids[it.custom_id] = true
      assert.is_nil(it.params.stream)
      assert.same({type = "tool", name = "emit_code"}, it.params.tool_choice)
    end
    local distinct = 0
    for _ in pairs(ids) do distinct = distinct + 1 end
    assert.equal(3, distinct)
  end)

  it("gives the same results as a synchronous batch, errored and expired items reported, and resumes", function()
    local file = requests_file(20)
    -- synchronous, one at a time so the mock hands out its answers in order
    mock.script(script(false))
    local sync = run({"batch", file, "--schema", SHOP, "--json", "--concurrency", "1"}, home.dir .. "/sync-cache")
    local want = cjson.decode(sync.stdout).results
    mock.reset()
    mock.script(script(true))

    local sub = run({"batch", file, "--schema", SHOP, "--async"})
    assert.equal(0, sub.status, sub.stderr)
    local id = sub.stdout:match("^(msgbatch_%w+)")
    local st = run({"batch", "status", id})
    assert.equal(0, st.status, st.stderr)
    assert.matches(id .. "  in_progress  processing 20", st.stdout, 1, true)

    -- Interrupted: the first batch has ended, the repair batch is still running.
    local first = run({"batch", "collect", id, "--wait", "0", "--poll", "0.01", "--json"})
    assert.equal(1, first.status)
    assert.equal(1, cli.lines(first.stderr), first.stderr)
    assert.matches("is still in_progress .* run `sparkgen batch collect " .. id .. "` again", first.stderr)
    assert.equal(2, paths("POST", "/v1/messages/batches"))

    local again = run({"batch", "collect", id, "--poll", "0.01", "--json"})
    assert.equal(1, again.status) -- two requests failed
    assert.equal(2, paths("POST", "/v1/messages/batches")) -- resumed, nothing submitted twice
    assert.equal(0, paths("POST", "/v1/messages"))
    local got = cjson.decode(again.stdout)
    assert.equal(20, #got.results)
    for i, row in ipairs(got.results) do
      if i == 5 then
        assert.equal("failed", row.status)
        assert.matches("errored: invalid_request_error: bad item", row.error, 1, true)
      elseif i == 9 then
        assert.equal("failed", row.status)
        assert.matches("expired before it was processed", row.error, 1, true)
      else
        assert.equal(want[i].status, row.status, "request " .. i)
        assert.equal(want[i].result.code, row.result.code, "request " .. i)
        assert.same(want[i].result.validation_checks, row.result.validation_checks)
        assert.equal(want[i].result.attempts, row.result.attempts)
      end
    end
    assert.equal(2, got.results[3].result.attempts) -- repaired through the second batch
    assert.equal(id, got.summary.message_batch)
    -- prompt caching applies inside a batch: the schema block is read from the cache
    assert.truthy(got.summary.cache_read_input_tokens > 0)
    -- priced at the batch discount
    local u = got.results[1].result.usage
    local full = (u.input_tokens * 3 + u.output_tokens * 15 + u.cache_creation_input_tokens * 3.75
                  + u.cache_read_input_tokens * 0.3) / 1e6
    assert.near(full / 2, got.results[1].result.cost_usd, 1e-12)

    -- the answers fed the response cache: the same request synchronously is a hit
    local before = #mock.requests()
    local gen = run({"generate", "orders", "orders and revenue per month, variant 1", "--schema", SHOP, "--json"})
    assert.equal(0, gen.status, gen.stderr)
    assert.is_true(cjson.decode(gen.stdout).cached)
    assert.equal(before, #mock.requests())
  end)

  it("repairs synchronously with --repair-sync", function()
    mock.script{BAD, {}, {}}
    local id = run({"batch", requests_file(2), "--schema", SHOP, "--async"}).stdout:match("^(msgbatch_%w+)")
    local r = run({"batch", "collect", id, "--poll", "0.01", "--repair-sync"})
    assert.equal(0, r.status, r.stderr)
    assert.equal(1, paths("POST", "/v1/messages/batches"))
    assert.equal(1, paths("POST", "/v1/messages"))
    assert.matches("2 requests: 2 ok, 0 failed", r.stdout, 1, true)
    assert.matches("; Message Batch " .. id .. ";", r.stdout, 1, true)
  end)

  it("writes the same jobs as a synchronous batch", function()
    local id = run({"batch", requests_file(1), "--schema", SHOP, "--async"}).stdout:match("^(msgbatch_%w+)")
    local jobs = home.dir .. "/jobs"
    local r = run({"batch", "collect", id, "--poll", "0.01", "--jobs", jobs})
    assert.equal(0, r.status, r.stderr)
    assert.matches("def transform%(read_table, params%)", cli.slurp(jobs .. "/001-request.py"))
  end)

  it("never streams a batch item, even with anthropic.stream on", function()
    cli.write(home.dir .. "/sparkgen.lua", "return {anthropic = {stream = true}}\n")
    local id = run({"batch", requests_file(1), "--schema", SHOP, "--async"}).stdout:match("^(msgbatch_%w+)")
    assert.is_nil(mock.requests()[1].body.requests[1].params.stream)
    local r = run({"batch", "collect", id, "--poll", "0.01"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("1 requests: 1 ok", r.stdout, 1, true)
  end)

  it("says in one line that it knows no such batch", function()
    local r = run({"batch", "collect", "msgbatch_nothere"})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("no collection state for Message Batch msgbatch_nothere", r.stderr, 1, true)
    r = run({"batch", "status", "msgbatch_nothere"})
    assert.equal(1, r.status)
    assert.matches("not_found_error", r.stderr, 1, true)
  end)

  it("needs an id after status or collect", function()
    local r = run({"batch", "status"})
    assert.equal(2, r.status)
    assert.matches("usage: sparkgen batch status ID", r.stderr, 1, true)
  end)
end)

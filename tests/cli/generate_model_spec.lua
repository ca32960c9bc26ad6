-- End-to-end: `sparkgen generate` and `sparkgen batch` against the mock Anthropic server.
-- Each fault the protocol allows ends in a retry-then-success or in one clear error line
-- (with the request id when there is one), a non-zero exit, and no key in any output.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local cjson = require "cjson"

local KEY = "sk-ant-test-0123456789-do-not-leak"
local SHOP = cli.SHOP

local mock = cli.with_mock{api_key = KEY}
local home = cli.temp_home()

local function run(argv, opts)
  opts = opts or {}
  local env = {XDG_CACHE_HOME = home.dir}
  for k, v in pairs(opts.env or {}) do env[k] = v end
  return mock.run(argv, {env = env, cwd = opts.cwd})
end

local function generate(extra, opts)
  local argv = {"generate", "orders", "monthly orders and revenue", "--schema", SHOP, "--json"}
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return run(argv, opts)
end

-- What `sparkgen ARGS` (shell words) prints run in dir under script(1), on a terminal.
local function on_terminal(dir, args)
  local cmd = ("cd %s && env ANTHROPIC_BASE_URL=%s XDG_CACHE_HOME=%s script -qec %s /dev/null"):format(
    cli.quote(dir), cli.quote(mock.url), cli.quote(home.dir), cli.quote(cli.quote(cli.BIN) .. " " .. args))
  return cli.with_env({ANTHROPIC_API_KEY = KEY}, function()
    local pipe = io.popen(cmd, "r")
    local out = pipe:read("a")
    pipe:close()
    return out
  end)
end

-- A project config that makes retries fast and timeouts short.
local function fast_config(extra)
  local path = home.dir .. "/sparkgen.lua"
  cli.write(path, "return {http = {retries = 2, timeout_s = 2, connect_timeout_s = 2}" .. (extra or "") .. "}\n")
  return home.dir
end

describe("generate with the model", function()
  it("turns a free-form request into a result through the forced emit_code tool", function()
    local r = generate()
    assert.equal(0, r.status, r.stderr)
    local result = cjson.decode(r.stdout)
    assert.equal("anthropic", result.provider)
    assert.same({"orders"}, result.tables_used)
    assert.equal(1, #result.request_ids)
    assert.truthy(result.usage.input_tokens > 0)
    local sent = mock.requests()[1].body
    assert.same({type = "tool", name = "emit_code"}, sent.tool_choice)
  end)

  it("sends a registered type through the model when asked with --provider anthropic", function()
    local r = run({"generate", "orders", "revenue_by_category", "--schema", SHOP, "--provider", "anthropic", "--json"})
    assert.equal(0, r.status, r.stderr)
    local result = cjson.decode(r.stdout)
    assert.equal("anthropic", result.provider)
    -- the type's own checks are always part of the result
    local rules = {}
    for _, c in ipairs(result.validation_checks) do rules[c.rule] = true end
    assert.is_true(rules.not_null)
    assert.matches("revenue_by_category", cjson.encode(mock.requests()[1].body))
  end)

  it("serves the second identical request from the cache without HTTP", function()
    assert.equal(0, generate().status)
    local r = generate()
    assert.equal(0, r.status, r.stderr)
    assert.is_true(cjson.decode(r.stdout).cached)
    assert.equal(1, #mock.requests())
  end)

  it("repairs code that fails the checks: bad first answer, good second", function()
    mock.script{
      {reply = {code = 'result_df = read_table("orders").select("order_total")\n', description = "x",
                tables_used = {"orders"}, estimated_complexity = "low", validation_checks = {}}},
    }
    local r = generate()
    assert.equal(0, r.status, r.stderr)
    local result = cjson.decode(r.stdout)
    assert.equal(2, result.attempts)
    local second = mock.requests()[2].body
    assert.matches("unknown%-column", cjson.encode(second.messages))
  end)

  it("gives up after --max-repairs with the findings and exit 1, printing no code", function()
    local bad = {reply = {code = 'result_df = read_table("orderz")\n', description = "x",
                          tables_used = {"orderz"}, estimated_complexity = "low", validation_checks = {}}}
    mock.script{bad, bad, bad}
    local r = run({"generate", "orders", "monthly orders and revenue", "--schema", SHOP, "--max-repairs", "2"})
    assert.equal(1, r.status)
    assert.equal("", r.stdout)
    assert.matches("failed 1 check after 3 attempts", r.stderr)
    assert.matches("unknown%-table", r.stderr)
    assert.equal(3, #mock.requests())
  end)
end)

describe("answers worth keeping", function()
  local seed = {code = 'result_df = read_table("orders").groupBy("customer_id").count()\n', description = "Orders per customer.",
                tables_used = {"orders"}, estimated_complexity = "low",
                validation_checks = {"non_empty", "every customer appears once"}}

  it("keeps validation checks written as strings: a rule name as the rule, prose as a note", function()
    mock.script{{reply = seed}}
    local job = home.dir .. "/job.py"
    local r = generate({"--job", job})
    assert.equal(0, r.status, r.stderr)
    assert.equal(1, #mock.requests()) -- kept on the first answer, not retried or discarded
    local result = cjson.decode(r.stdout)
    local note
    for _, c in ipairs(result.validation_checks) do if c.rule == "note" then note = c end end
    assert.same({rule = "note", description = "every customer appears once"}, note)
    assert.matches("kept as a note, not enforced: every customer appears once", table.concat(result.warnings, "\n"), 1, true)
    assert.truthy(result.usage.input_tokens > 0)
    local text = cli.slurp(job)
    assert.matches("#   - (note, not checked) every customer appears once", text, 1, true)
    assert.is_nil(text:find("lambda df: .*every customer", 1))
  end)

  it("gives the cost in USD from the price table, or says the price is unknown", function()
    local r = generate()
    local result = cjson.decode(r.stdout)
    assert.equal(cjson.null, result.cost_usd)
    assert.equal("price unknown for model 'claude-sonnet-5' (add it to prices in the config)", result.cost_note)
    r = generate({"--no-cache"}, {cwd = fast_config(', prices = {["claude-sonnet-5"] = {input = 3, output = 15}}')})
    assert.equal(0, r.status, r.stderr)
    result = cjson.decode(r.stdout)
    local u = result.usage
    local want = (u.input_tokens * 3 + u.output_tokens * 15 + u.cache_creation_input_tokens * 3.75
                  + u.cache_read_input_tokens * 0.3) / 1e6
    assert.near(want, result.cost_usd, 1e-12)
  end)

  it("says in the result that a max_tokens stop was asked again with more room", function()
    mock.script{{stop_reason = "max_tokens"}}
    local r = generate({"--no-cache"})
    assert.equal(0, r.status, r.stderr)
    local result = cjson.decode(r.stdout)
    assert.matches("cut at max_tokens=8192 and asked again with max_tokens=16384", table.concat(result.warnings, "\n"), 1, true)
    assert.equal(16384, mock.requests()[2].body.max_tokens)
  end)

  it("counts the tokens of a request that failed in the batch summary", function()
    local path = home.dir .. "/one.jsonl"
    cli.write(path, cjson.encode{source = "orders", type = "monthly orders and revenue"} .. "\n")
    mock.script{{tool_input_raw = "not an object"}, {tool_input_raw = "still not"}}
    local r = run({"batch", path, "--schema", SHOP, "--json", "--no-cache"})
    assert.equal(1, r.status)
    local out = cjson.decode(r.stdout)
    assert.equal("failed", out.results[1].status)
    assert.truthy(out.results[1].usage.input_tokens > 0)
    assert.equal(out.results[1].usage.input_tokens, out.summary.input_tokens)
    assert.truthy(out.summary.output_tokens > 0)
    assert.equal(2, #out.summary.request_ids)
  end)
end)

describe("generate against faults", function()
  local retried = {
    {"429 with retry-after-ms", {status = 429, retry_after_ms = 20}},
    {"529 overloaded", {status = 529, retry_after_ms = 20}},
    {"500 api error", {status = 500, retry_after_ms = 20}},
    {"a connection reset", {reset = true}},
    {"a truncated body", {truncated = true}},
  }
  for _, case in ipairs(retried) do
    it("retries " .. case[1] .. " and then succeeds", function()
      mock.script{case[2]}
      local r = generate({"--no-cache"}, {cwd = fast_config()})
      assert.equal(0, r.status, r.stderr)
      assert.equal(2, #mock.requests())
    end)
  end

  it("times out a hung request and says so in one line", function()
    mock.script{{sleep_s = 5}}
    local r = generate({"--no-cache"}, {cwd = fast_config(", max_repairs = 0"), env = {}})
    -- retries = 2: the second attempt gets the default answer
    assert.equal(0, r.status, r.stderr)
  end)

  local failures = {
    {"invalid JSON", {invalid_json = true}, "not valid JSON"},
    {"an answer without tool_use", {text = "Sure, here is some code."}, "no emit_code tool call"},
    {"a max_tokens stop", {stop_reason = "max_tokens"}, "truncated at max_tokens"},
    {"a refusal", {stop_reason = "refusal"}, "refused"},
    {"a rejected key (401)", {status = 401}, "API key was rejected"},
  }
  for _, case in ipairs(failures) do
    it("reports " .. case[1] .. " in one line with the request id, exit 1", function()
      mock.script{case[2], case[2], case[2]}
      local r = generate({"--no-cache"}, {cwd = fast_config()})
      assert.equal(1, r.status)
      assert.equal(1, cli.lines(r.stderr), r.stderr)
      assert.matches(case[3], r.stderr, 1, true)
      assert.matches("request%-id req_", r.stderr)
      if case[2].status ~= 401 and not case[2].invalid_json then
        assert.matches("billed: %d+ input / %d+ output tokens", r.stderr) -- answers that were paid for
      end
      assert.equal("", r.stdout)
    end)
  end

  it("reports an unreachable server in one line after the retries", function()
    local r = run({"generate", "orders", "monthly orders", "--schema", SHOP, "--no-cache"},
      {cwd = fast_config(), env = {ANTHROPIC_BASE_URL = "http://127.0.0.1:1"}})
    assert.equal(1, r.status)
    assert.equal(1, cli.lines(r.stderr), r.stderr)
    assert.matches("^sparkgen: anthropic: .*127%.0%.0%.1", r.stderr)
  end)
end)

describe("batch against the model", function()
  local function requests_file(n)
    local lines = {}
    for i = 1, n do
      if i % 10 == 0 then
        lines[#lines + 1] = cjson.encode{source = "orders", type = "no_such_type"}
      elseif i % 2 == 0 then
        lines[#lines + 1] = cjson.encode{source = "orders", type = "revenue_by_category",
                                         context = {time_period = "all", as_of = ("2026-01-%02d"):format(i % 28 + 1)}}
      else
        lines[#lines + 1] = cjson.encode{source = "orders", type = ("orders and revenue per month, variant %d"):format(i)}
      end
    end
    local path = home.dir .. "/batch.jsonl"
    cli.write(path, table.concat(lines, "\n") .. "\n")
    return path
  end

  it("runs 50 mixed requests and reports a correct summary in input order", function()
    local r = run({"batch", requests_file(50), "--schema", SHOP, "--concurrency", "8", "--json"})
    assert.equal(1, r.status) -- 5 requests name an unknown type
    local out = cjson.decode(r.stdout)
    assert.equal(50, #out.results)
    assert.equal(45, out.summary.ok)
    assert.equal(5, out.summary.failed)
    for i, row in ipairs(out.results) do
      assert.equal(i, row.index)
      assert.equal(i % 10 == 0 and "failed" or "ok", row.status)
    end
    assert.equal(25, #mock.requests()) -- only the free-form ones reach the model
    assert.equal(25, #out.summary.request_ids)
  end)

  it("streams with a progress line on a terminal and prints the same code", function()
    local plain = generate({"--no-cache"})
    local out = on_terminal(fast_config(", anthropic = {stream = true}"), ("generate orders %s --schema %s --no-cache --json"):format(
      cli.quote("monthly orders and revenue"), cli.quote(SHOP)))
    assert.matches("sparkgen: monthly orders and revenue %(source orders%): receiving the answer, %d+ characters", out)
    assert.is_true(mock.requests()[#mock.requests()].body.stream)
    local json = out:gsub("\r\n", "\n"):match("\n?(%{\n.*%})")
    assert.equal(cjson.decode(plain.stdout).code, cjson.decode(json).code)
  end)

  it("draws a progress bar on a terminal", function()
    local out = on_terminal(home.dir, ("batch %s --schema %s"):format(cli.quote(requests_file(20)), cli.quote(SHOP)))
    assert.matches("%[#+%] 20/20 done, 2 failed, 0 cached, [%d.]+s, tokens [%d.k]+ in / [%d.k]+ out", out)
    assert.matches("20 requests: 18 ok, 2 failed", out)
  end)
end)

-- End-to-end: config values are checked for range and sense, not only type. Each
-- reproduction from the hardening report exits 1 with one line naming key and file
-- (it used to exit 70).
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")

describe("config values out of range", function()
  local tmp = cli.temp_home()

  local cases = {
    {"http = {retries = -1}", "config key 'http.retries' must be an integer from 0 to 10, got %-1"},
    {"http = {retries = 1e9}", "config key 'http.retries' must be an integer from 0 to 10, got 1000000000"},
    {"http = {timeout_s = 0}", "config key 'http.timeout_s' must be a number greater than 0 and at most 86400, got 0"},
    {"http = {timeout_s = -1}", "config key 'http.timeout_s' must be a number greater than 0 and at most 86400, got %-1"},
    {"http = {timeout_s = 0/0}", "config key 'http.timeout_s' must be a number greater than 0 and at most 86400, got nan"},
    {"provider = 'antropic'", "config key 'provider' must be one of template, anthropic, openai, got 'antropic' %(did you mean: anthropic%?%)"},
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      cli.write(tmp.dir .. "/sparkgen.lua", "return {" .. c[1] .. "}\n")
      local r = cli.run({"generate", "orders", "daily_sales", "--schema", cli.SHOP}, {cwd = tmp.dir})
      assert.equal(1, r.status, r.stderr)
      assert.equal(1, cli.lines(r.stderr), r.stderr)
      assert.matches("^sparkgen: %./sparkgen%.lua: " .. c[2] .. "\n$", r.stderr)
    end)
  end

  it("names the environment variable a bad value came from", function()
    local r = cli.run({"types"}, {env = {SPARKGEN_LOG = "loud"}})
    assert.equal(1, r.status, r.stderr)
    assert.matches("^sparkgen: environment variable SPARKGEN_LOG: config key 'log.level' must be one of " ..
      "debug, info, warn, error, off, got 'loud'\n$", r.stderr)
  end)

  it("names the command line for a flag", function()
    local r = cli.run({"batch", tmp.dir .. "/none.jsonl", "--concurrency", "0"})
    assert.equal(1, r.status, r.stderr)
    assert.matches("^sparkgen: command line: config key 'http.concurrency' must be an integer from 1 to 256, got 0\n$", r.stderr)
  end)
end)

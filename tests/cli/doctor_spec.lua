-- End-to-end: `sparkgen doctor` tells a new user what is missing, one line per item,
-- and never prints a secret.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")

local home = cli.temp_home()

-- doctor run in a fresh directory of its own
local function doctor(env)
  local e = {PATH = "/usr/bin:/bin", SPARK_HOME = "", PGHOST = "/nonexistent-socket-dir", PGDATABASE = "shop"}
  for k, v in pairs(env or {}) do e[k] = v end
  return cli.run({"doctor"}, {env = e, cwd = home.dir})
end

describe("sparkgen doctor", function()
  it("names a missing spark-submit with the fix and exits 1", function()
    local r = doctor()
    assert.equal(1, r.status)
    assert.matches("MISSING%s+spark%-submit", r.stdout)
    assert.matches("fix: run `sparkgen spark install`", r.stdout, 1, true)
  end)

  it("finds the venv of `sparkgen spark install` under XDG_DATA_HOME from any directory", function()
    local venv = home.dir .. "/data/sparkgen/venv/bin"
    cli.write(venv .. "/spark-submit", "#!/bin/sh\nexit 0\n")
    os.execute("chmod +x " .. cli.quote(venv .. "/spark-submit"))
    local r = doctor({XDG_DATA_HOME = home.dir .. "/data"})
    assert.matches("ok%s+spark%-submit%s+" .. (venv .. "/spark-submit"):gsub("%p", "%%%0"), r.stdout)
  end)

  it("checks a configured Spark Connect endpoint and says when it does not answer", function()
    local r = doctor({SPARK_REMOTE = "sc://127.0.0.1:1/;token=doctor-token-secret"})
    assert.matches("MISSING%s+spark connect%s+sc://127.0.0.1:1/;token=%*%*%* does not answer", r.stdout)
    assert.is_nil((r.stdout .. r.stderr):find("doctor-token-secret", 1, true))
  end)

  it("reports an unreachable database as a warning with the settings to check", function()
    local r = doctor()
    assert.matches("warn%s+database%s+unreachable", r.stdout)
    assert.matches("fix: set --db, DATABASE_URL or the PG* variables", r.stdout, 1, true)
  end)

  it("says the API key is set without printing it", function()
    local r = doctor({ANTHROPIC_API_KEY = "sk-ant-doctor-secret-123"})
    assert.matches("ok%s+api key%s+ANTHROPIC_API_KEY is set", r.stdout)
    assert.is_nil((r.stdout .. r.stderr):find("doctor-secret", 1, true))
  end)

  it("reports spark-submit found through SPARK_HOME", function()
    local spark = home.dir .. "/spark"
    cli.write(spark .. "/bin/spark-submit", "#!/bin/sh\nexit 0\n")
    os.execute("chmod +x " .. cli.quote(spark .. "/bin/spark-submit"))
    local r = doctor({SPARK_HOME = spark})
    assert.matches("ok%s+spark%-submit%s+" .. (spark .. "/bin/spark-submit"):gsub("%p", "%%%0"), r.stdout)
  end)
end)

describe("sparkgen doctor and the model endpoint", function()
  local KEY = "sk-ant-doctor-right-key"
  local mock = cli.with_mock{api_key = KEY}
  local function doctor_here(env) return doctor(mock.env(env)) end

  it("says the key works after one free call to GET /v1/models, with the model's limits", function()
    local r = doctor_here({ANTHROPIC_API_KEY = KEY})
    assert.matches("ok%s+model api%s+key accepted by " .. mock.url:gsub("%p", "%%%0")
      .. " %(4 models listed%); claude%-sonnet%-5: 64000 output / 200000 input tokens", r.stdout)
    local seen = mock.requests()
    assert.equal("GET", seen[1].method)
    assert.equal("/v1/models", seen[1].path)
    assert.is_nil((r.stdout .. r.stderr):find(KEY, 1, true))
  end)

  it("says a rejected key is rejected, with the fix, and never prints it", function()
    local r = doctor_here({ANTHROPIC_API_KEY = "sk-ant-doctor-wrong-key"})
    assert.matches("warn%s+model api%s+anthropic: the API key was rejected %(authentication_error", r.stdout)
    assert.matches("fix: the key was rejected: set ANTHROPIC_API_KEY to a valid key", r.stdout, 1, true)
    assert.is_nil((r.stdout .. r.stderr):find("doctor-wrong-key", 1, true))
  end)

  it("says when the configured model is not one the API lists", function()
    local r = doctor_here({ANTHROPIC_API_KEY = KEY, SPARKGEN_MODEL = "claude-nonexistent-9"})
    assert.matches("warn%s+model api%s+key accepted .* but model 'claude%-nonexistent%-9': not_found_error", r.stdout)
  end)
end)

-- Structured logging: one JSON object per line with the documented fields, levels,
-- and secrets redacted wherever they appear.
local log = require "sparkgen.log"
local cjson = require "cjson"

local function capture(fn)
  local path = os.tmpname()
  local sink = assert(io.open(path, "w+"))
  assert(log.configure{sink = sink, format = "json", level = "debug"})
  fn()
  sink:seek("set")
  local lines = {}
  for line in sink:lines() do lines[#lines + 1] = line end
  sink:close()
  os.remove(path)
  log.configure{sink = io.stderr, format = "auto", level = "warn"}
  return lines
end

describe("log", function()
  it("writes one JSON line with timestamp, level, op, params, status and duration", function()
    local lines = capture(function()
      local span = log.span("schema.catalog", {database = "shop"})
      span:done("ok", {tables = 5})
    end)
    assert.equal(1, #lines)
    local ev = cjson.decode(lines[1])
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", ev.timestamp)
    assert.equal("info", ev.level)
    assert.equal("schema.catalog", ev.op)
    assert.same({database = "shop"}, ev.params)
    assert.equal("ok", ev.status)
    assert.equal(5, ev.tables)
    assert.is_number(ev.duration_ms)
  end)

  it("records a failed operation with its error", function()
    local lines = capture(function() log.span("llm.request", {}):fail("timeout after 600 s") end)
    local ev = cjson.decode(lines[1])
    assert.equal("error", ev.status)
    assert.equal("timeout after 600 s", ev.error)
  end)

  it("drops events below the configured level", function()
    local path = os.tmpname()
    local sink = assert(io.open(path, "w+"))
    log.configure{sink = sink, format = "json", level = "warn"}
    log.info("quiet", {})
    log.warn("loud", {})
    sink:seek("set")
    local text = sink:read("a")
    sink:close()
    os.remove(path)
    log.configure{sink = io.stderr, format = "auto"}
    assert.is_nil(text:find('"quiet"', 1, true))
    assert.truthy(text:find('"loud"', 1, true))
  end)

  it("redacts values under secret-looking keys", function()
    local lines = capture(function()
      log.info("http.request", {headers = {["x-api-key"] = "sk-ant-abc123", authorization = "Bearer t0k3n"},
                                input_tokens = 12})
    end)
    assert.is_nil(lines[1]:find("sk-ant-abc123", 1, true))
    assert.is_nil(lines[1]:find("t0k3n", 1, true))
    assert.equal(12, cjson.decode(lines[1]).input_tokens) -- token counts are not secrets
  end)

  it("strips passwords from connection strings inside any value", function()
    local lines = capture(function()
      log.warn("schema.connect", {error = "cannot connect to postgresql://bob:hunter2@db/shop",
                                   conninfo = "host=db password=hunter2 dbname=shop"})
    end)
    assert.is_nil(lines[1]:find("hunter2", 1, true))
  end)

  it("rejects an unknown level with the allowed ones", function()
    local ok, err = log.configure{level = "verbose"}
    assert.is_nil(ok)
    assert.matches("use debug, info, warn, error or off", err)
  end)
end)

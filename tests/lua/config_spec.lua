-- Configuration layers and their errors.
local config = require "sparkgen.config"
local util = require "sparkgen.util"

local function file(text)
  local path = os.tmpname()
  assert(util.write_file(path, text))
  return path
end

describe("config", function()
  it("applies the project file over the user file", function()
    local user = file("return {max_repairs = 5, model = 'a'}")
    local project = file("return {model = 'b'}")
    local cfg = assert(config.load{files = {user, project}})
    assert.equal(5, cfg.max_repairs)
    assert.equal("b", cfg.model)
    os.remove(user); os.remove(project)
  end)

  it("applies flags over every file", function()
    local project = file("return {model = 'b'}")
    local cfg = assert(config.load{files = {project}, flags = {model = 'c'}})
    assert.equal("c", cfg.model)
    os.remove(project)
  end)

  it("merges a section key by key", function()
    local project = file("return {http = {retries = 7}}")
    local cfg = assert(config.load{files = {project}})
    assert.equal(7, cfg.http.retries)
    assert.equal(4, cfg.http.concurrency)
    os.remove(project)
  end)

  it("names an unknown key and the file", function()
    local project = file("return {modle = 'x'}")
    local _, err = config.load{files = {project}}
    assert.equal(project .. ": unknown config key 'modle' (did you mean: model, models?)", err)
    os.remove(project)
  end)

  it("names an unknown key inside a section", function()
    local project = file("return {http = {retires = 1}}")
    local _, err = config.load{files = {project}}
    assert.matches("unknown config key 'http%.retires'", err)
    os.remove(project)
  end)

  it("rejects a value of the wrong type", function()
    local project = file("return {max_repairs = 'two'}")
    local _, err = config.load{files = {project}}
    assert.matches("config key 'max_repairs' must be a number, got string", err)
    os.remove(project)
  end)

  it("reports a syntax error with file and line", function()
    local project = file("return {\n  model = ,\n}")
    local _, err = config.load{files = {project}}
    assert.matches("broken config file .*:2:", err)
    os.remove(project)
  end)

  it("checks overrides from a recipe like a file, naming where they came from", function()
    local _, err = config.check({http = {retires = 1}}, "sg.configure")
    assert.equal("sg.configure: unknown config key 'http.retires' (did you mean: http.retries?)", err)
  end)

  it("ignores a missing file", function()
    assert.truthy(config.load{files = {"/nonexistent/sparkgen.lua"}})
  end)
end)

describe("cli command table", function()
  it("carries each command module's own summary (the table exists so only one module loads)", function()
    local cli = require "sparkgen.cli"
    for _, c in ipairs(cli.COMMANDS) do
      local ok, mod = pcall(require, "sparkgen.commands." .. c[1])
      assert.is_true(ok, "missing command module " .. c[1])
      assert.equal(mod.summary, c[2])
    end
  end)
end)

describe("config ranges", function()
  local function load_text(text)
    local path = file(text)
    local cfg, err = config.load{files = {path}}
    os.remove(path)
    return cfg, err and err:gsub("^.-: config", "config")
  end

  it("turns an integral float into an integer", function()
    local cfg = assert(load_text("return {http = {retries = 3.0}, cache = {max_entries = 1e3}}"))
    assert.equal("integer", math.type(cfg.http.retries))
    assert.equal(1000, cfg.cache.max_entries)
  end)

  it("rejects a value outside its range, naming the key", function()
    local _, err = load_text("return {max_repairs = 11}")
    assert.equal("config key 'max_repairs' must be an integer from 0 to 10, got 11", err)
    _, err = load_text("return {sandbox = {memory_mb = 0}}")
    assert.equal("config key 'sandbox.memory_mb' must be a number from 1 to 65536, got 0", err)
  end)

  it("rejects an infinite timeout", function()
    local _, err = load_text("return {connect_timeout_s = math.huge}")
    assert.equal("config key 'connect_timeout_s' must be a number greater than 0 and at most 3600, got inf", err)
  end)

  it("rejects an unknown enum value and suggests the closest", function()
    local _, err = load_text("return {log = {format = 'jsn'}}")
    assert.equal("config key 'log.format' must be one of json, text, auto, got 'jsn' (did you mean: json?)", err)
  end)

  it("checks the flags layer too", function()
    local _, err = config.load{files = {}, flags = {http = {concurrency = 0}}}
    assert.equal("command line: config key 'http.concurrency' must be an integer from 1 to 256, got 0", err)
  end)
end)

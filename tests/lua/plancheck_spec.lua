-- plancheck.lua without Spark: when the plan check runs, and what a bad setting says.
local plancheck = require "sparkgen.plancheck"
local config = require "sparkgen.config"

local function cfg(over)
  local c = assert(config.load{files = {}})
  for k, v in pairs(over or {}) do c[k] = v end
  return c
end

describe("plancheck.mode", function()
  it("is off for a single generate by default (a cold JVM would cost seconds)", function()
    local on, why = plancheck.mode(cfg(), "generate")
    assert.is_false(on)
    assert.matches("--plan-check turns it on", why, 1, true)
  end)
  it("decides a single generate without loading the Spark modules", function()
    -- A cache-hit generate should not pay for modules it does not use.
    local loaded, preload = package.loaded["sparkgen.sparkserver"], package.preload["sparkgen.sparkserver"]
    package.loaded["sparkgen.sparkserver"] = nil
    package.preload["sparkgen.sparkserver"] = function() error("sparkgen.sparkserver was loaded", 0) end
    local ok, on = pcall(plancheck.mode, cfg(), "generate")
    package.loaded["sparkgen.sparkserver"], package.preload["sparkgen.sparkserver"] = loaded, preload
    assert.is_true(ok, on)
    assert.is_false(on)
  end)
  it("is off when asked, wherever it runs", function()
    assert.is_false((plancheck.mode(cfg{plan_check = "off"}, "eval")))
  end)
  it("names an unknown setting and suggests the closest", function()
    local on, err = plancheck.mode(cfg{plan_check = "onn"}, "generate")
    assert.is_nil(on)
    assert.matches("plan_check must be auto, on or off, got 'onn' (did you mean: on", err, 1, true)
  end)
  it("fails when forced on without Spark, saying what is missing", function()
    local c = cfg{plan_check = "on"}
    c.spark.submit = "/nonexistent/spark-submit"
    local on, err = plancheck.mode(c, "generate")
    assert.is_nil(on)
    assert.matches("the plan check (--plan-check) needs Spark: spark.submit is set to /nonexistent/spark-submit", err, 1, true)
  end)
  it("is off in eval when no Spark is installed, and says why", function()
    local c = cfg()
    c.spark.submit = "/nonexistent/spark-submit"
    local on, why = plancheck.mode(c, "eval")
    assert.is_false(on)
    assert.matches("no Spark installed", why, 1, true)
  end)
end)

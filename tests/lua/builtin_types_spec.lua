-- builtin_types_spec.lua — every built-in transformation type loads cleanly, resolves
-- its checks for its default context, and renders a body that compiles as the inside
-- of transform(read_table, params) and reads only the tables it declares.
local paths = require "sparkgen.paths"
local types = require "sparkgen.types"
local checks = require "sparkgen.checks"
local template = require "sparkgen.template"
local util = require "sparkgen.util"

local HOME = os.getenv("SPARKGEN_HOME")

local BUILTIN = {"customer_lifetime_value", "daily_sales", "monthly_cohort_retention",
                 "product_performance", "revenue_by_category", "ticket_resolution_time",
                 "top_customers"}

paths.setup{builtin = HOME, user = {}}
checks.reset()

local tmp = os.getenv("TEST_TMP") or assert(util.tempdir("builtin-types"))

-- Render a type's body the way generator.lua does.
local function render(def, context, tables)
  local names = {}
  for _, n in ipairs(def.tables) do names[n] = (tables or {})[n] or n end
  return template.render("templates", def.template,
    {context = context, params = context, source = def.tables[1], tables = names})
end

local function py_compile(name, body)
  local path = ("%s/%s_body.py"):format(tmp, name)
  local lines = {"def transform(read_table, params):"}
  for line in (body .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line == "" and "" or ("    " .. line)
  end
  lines[#lines + 1] = "    return result_df"
  assert(util.write_file(path, table.concat(lines, "\n") .. "\n"))
  local cmd = ("python3 -m py_compile %s 2>&1"):format(util.shell_quote(path))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

describe("built-in types", function()
  local reg = assert(types.load_all{strict = true, reload = true})

  it("are all present and come from the built-in root", function()
    for _, name in ipairs(BUILTIN) do
      local def = reg.by_name[name]
      assert.is_table(def, name)
      assert.equal("built-in", def.origin, name)
    end
  end)

  for _, name in ipairs(BUILTIN) do
    describe(name, function()
      local def = reg.by_name[name]
      local context = assert(types.resolve_context(def, {as_of = "2026-11-20"}))

      it("declares as_of next to any period", function()
        if def.params.time_period then assert.equal("date", def.params.as_of.type) end
        assert.equal("types/" .. name .. ".py", def.template)
      end)

      it("resolves its checks for the default context", function()
        local res, err = checks.resolve(def.checks, context)
        assert.is_nil(err)
        assert.equal(#def.checks, #res)
        for _, c in ipairs(res) do
          assert.truthy(checks.pyspark(c))
          assert.is_string(c.description)
        end
      end)

      it("renders its description with the context", function()
        local text = assert(template.render_string(def.description, context, "@" .. name .. ":description"))
        assert.falsy(text:find("$(", 1, true))
        assert.truthy(text:find("2026-11-20", 1, true))
      end)

      it("renders a body that compiles with py_compile", function()
        local body = assert(render(def, context))
        local ok, out = py_compile(name, body)
        assert.is_true(ok, out)
      end)

      it("assigns result_df and reads only its declared tables, by the names it is given", function()
        local qualified = {}
        for _, n in ipairs(def.tables) do qualified[n] = "sales." .. n end
        local body = assert(render(def, context, qualified))
        assert.truthy(body:find("\nresult_df = ", 1, true))
        local read = {}
        for n in body:gmatch('read_table%("([^"]+)"%)') do read[n] = true end
        local want = {}
        for _, n in ipairs(def.tables) do want["sales." .. n] = true end
        assert.same(want, read)
      end)

      it("names every required column in its final select", function()
        local body = assert(render(def, context))
        for _, c in ipairs(def.checks) do
          if c.rule == "required_columns" then
            for _, col in ipairs(c.columns) do
              assert.truthy(body:find('.alias("' .. col .. '")', 1, true), col)
            end
          end
        end
      end)

      it("carries no data values of the example database in its checks", function()
        -- A check must hold on any database that has the tables: literal values of a
        -- column (accepted_values {"Electronics", ...}) are the example shop's data.
        for _, c in ipairs(def.checks) do
          if c.rule == "accepted_values" then
            assert.is_string(c.values, "accepted_values of " .. tostring(c.column) .. " lists literal values")
            assert.matches("^%$%(", c.values)
          end
        end
      end)

      it("takes dates from params, never from the clock", function()
        local body = assert(render(def, context))
        assert.falsy(body:find("current_date", 1, true))
        assert.falsy(body:find("now()", 1, true))
      end)
    end)
  end
end)

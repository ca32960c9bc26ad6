-- The layering of the engine: commands/ depend on the library, never the other way
-- round. Only the command line (cli.lua dispatching, main.lua starting it) knows the
-- command modules, and a command never reaches back into cli.lua.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local ROOT = (os.getenv("SPARKGEN_HOME") or ".") .. "/lua/sparkgen"
local COMMAND_LINE = {["cli.lua"] = true, ["main.lua"] = true}

-- Every Lua file under dir (relative names), recursively.
local function lua_files(dir, prefix, out)
  out = out or {}
  for _, name in ipairs(sys.listdir(dir) or {}) do
    local path = dir .. "/" .. name
    local st = sys.stat(path)
    if st and st.type == "dir" then
      lua_files(path, prefix .. name .. "/", out)
    elseif name:match("%.lua$") then
      out[#out + 1] = prefix .. name
    end
  end
  return out
end

-- The modules a source file requires (string literal arguments only).
local function requires(text)
  local out = {}
  for name in text:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do out[#out + 1] = name end
  return out
end

describe("module layering", function()
  it("no library module requires a command module", function()
    local offenders = {}
    for _, rel in ipairs(lua_files(ROOT, "")) do
      if not rel:match("^commands/") and not COMMAND_LINE[rel] then
        for _, name in ipairs(requires(assert(util.read_file(ROOT .. "/" .. rel)))) do
          if name:match("^sparkgen%.commands%.") then offenders[#offenders + 1] = rel .. " → " .. name end
        end
      end
    end
    assert.same({}, offenders)
  end)

  it("no command module requires the command line (sparkgen.cli)", function()
    local offenders = {}
    for _, rel in ipairs(lua_files(ROOT .. "/commands", "commands/")) do
      for _, name in ipairs(requires(assert(util.read_file(ROOT .. "/" .. rel)))) do
        if name == "sparkgen.cli" then offenders[#offenders + 1] = rel end
      end
    end
    assert.same({}, offenders)
  end)
end)

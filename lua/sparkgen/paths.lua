-- paths.lua — where sparkgen looks for types, rules, prompts and templates.
-- User roots ($SPARKGEN_PATH, then the config's `paths`) come before the built-in root,
-- so a team shadows a built-in file by putting one with the same name in its own root.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

-- Built-in locations of each kind, relative to the built-in root.
local BUILTIN_SUBDIR = {types = "lua/types", rules = "lua/rules", prompts = "prompts", templates = "templates", py = "py"}

local state = {builtin = nil, user = {}}

--- setup{builtin = ROOT, user = {dir, ...}} — called once by main/cli after config.
function M.setup(opts)
  state.builtin = opts.builtin or state.builtin
  state.user = {}
  for _, dir in ipairs(opts.user or {}) do
    if dir ~= "" then state.user[#state.user + 1] = dir end
  end
end

function M.builtin_root()
  return state.builtin
end

--- The user root scaffolds write into: dir when given, else the first configured one
--- (SPARKGEN_PATH, then the config's paths), or nil, message.
function M.user_root(dir)
  if dir and dir ~= "" then return dir end
  if state.user[1] then return state.user[1] end
  return nil, "no user root to write into: run 'sparkgen init' (its sparkgen.lua makes the project " ..
    "directory one), set paths in sparkgen.lua or SPARKGEN_PATH, or pass --dir DIR"
end

--- The directories searched for `kind`, highest priority first, each {dir=, origin=}.
function M.dirs(kind)
  local out = {}
  for _, root in ipairs(state.user) do
    out[#out + 1] = {dir = root .. "/" .. kind, origin = root}
  end
  out[#out + 1] = {dir = state.builtin .. "/" .. assert(BUILTIN_SUBDIR[kind], kind), origin = "built-in"}
  return out
end

--- The first file named `name` (relative, may contain '/') for `kind`: path, origin.
function M.find(kind, name)
  for _, d in ipairs(M.dirs(kind)) do
    local path = d.dir .. "/" .. name
    if util.file_exists(path) then return path, d.origin end
  end
  return nil
end

--- Every file of `kind` ending in `ext`, shadowed ones dropped, sorted by name.
--- Returns a list of {name=, path=, origin=, shadows={origin,...}}.
function M.list(kind, ext)
  local seen, out = {}, {}
  for _, d in ipairs(M.dirs(kind)) do
    for _, file in ipairs(sys.listdir(d.dir) or {}) do
      if file:sub(-#ext) == ext and util.file_exists(d.dir .. "/" .. file) then
        local name = file:sub(1, -#ext - 1)
        if seen[name] then
          local s = seen[name].shadows
          s[#s + 1] = d.origin
        else
          seen[name] = {name = name, path = d.dir .. "/" .. file, origin = d.origin, shadows = {}}
          out[#out + 1] = seen[name]
        end
      end
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

return M

-- main.lua — the engine's entry point. The C host calls main{argv=, program=, root=,
-- version=} and exits with the status returned. Expected failures come back from the
-- CLI as an exit status; anything raised here is a bug and is reported by the host
-- with a traceback.
--
-- It also installs a bytecode cache for Lua modules, as Python's __pycache__ does:
-- parsing the ~8,000 lines a cached `generate` loads (argparse, Penlight, the engine)
-- is a large part of that request, and loading precompiled chunks is about seven times
-- faster. Entries live in $XDG_CACHE_HOME/sparkgen/bytecode, keyed by the source's
-- path, size and modification time, keep their debug information (errors still say
-- file:line) and are written atomically. A chunk that does not load (another Lua build,
-- a damaged file) is recompiled from source. SPARKGEN_BYTECODE=off turns it off.
local M = {}

local function bytecode_dir()
  if os.getenv("SPARKGEN_BYTECODE") == "off" then return nil end
  local base = os.getenv("SPARKGEN_CACHE_DIR")
  if not base or base == "" then
    local xdg = os.getenv("XDG_CACHE_HOME")
    if not xdg or xdg == "" then
      local home = os.getenv("HOME")
      if not home or home == "" then return nil end
      xdg = home .. "/.cache"
    end
    base = xdg .. "/sparkgen"
  end
  return base .. "/bytecode"
end

local function install_bytecode_cache(sys)
  local dir = bytecode_dir()
  if not dir then return end
  local made = false
  local function searcher(name)
    local path = package.searchpath(name, package.path)
    if not path then return nil end -- the standard searcher will explain
    local st = sys.stat(path)
    if not st then return nil end
    local stem = path:gsub("[/\\]", "%%")
    local entry = ("%s/%s.%d.%d.luac"):format(dir, stem, st.size, math.floor(st.mtime * 1000))
    local f = io.open(entry, "rb")
    if f then
      local data = f:read("a")
      f:close()
      local chunk = data and load(data, "@" .. path, "b")
      if chunk then return chunk, path end
    end
    local chunk, err = loadfile(path, "t")
    if not chunk then error(err, 0) end
    if not made then made = sys.mkdir_p(dir) end
    -- a miss: drop the entries of older versions of this file
    for _, file in ipairs(sys.listdir(dir) or {}) do
      if file:sub(1, #stem + 1) == stem .. "." and file:match("^%d+%.%d+%.luac$", #stem + 2) then
        os.remove(dir .. "/" .. file)
      end
    end
    local tmp = ("%s.%d.tmp"):format(entry, sys.getpid())
    local out = io.open(tmp, "wb")
    if out then
      out:write(string.dump(chunk))
      out:close()
      if not sys.rename(tmp, entry) then os.remove(tmp) end
    end
    return chunk, path
  end
  table.insert(package.searchers, 2, searcher)
end

function M.main(host)
  install_bytecode_cache(require "sparkgen.sys")
  local paths = require "sparkgen.paths"
  paths.setup{builtin = host.root}
  local cli = require "sparkgen.cli"
  return cli.main(host)
end

return M

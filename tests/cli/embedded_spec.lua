-- embedded_spec.lua — the engine's Lua modules come from the binary (package.preload),
-- never from bytecode in a cache directory: a damaged file there cannot crash anything.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")

describe("built-in Lua modules", function()
  it("are served from package.preload, with their source named for errors", function()
    local dir = cli.tempdir()
    cli.write(dir .. "/probe.lua", [[
for _, name in ipairs({"sparkgen.cli", "sparkgen.commands.cache", "sparkgen.llm", "sparkgen", "argparse"}) do
  assert(package.preload[name], name .. " is not preloaded")
end
local ok, err = pcall(require("sparkgen.util").trim)
print(err)
]])
    local r = cli.run({"run", "--trusted", dir .. "/probe.lua"})
    cli.rmdir(dir)
    assert.equal(0, r.status, r.stderr)
    assert.matches("^lua/sparkgen/util%.lua:%d+: attempt to index a nil value %(local 's'%)", r.stdout)
  end)

  it("never read bytecode left in the old cache directory: a damaged file changes nothing", function()
    local home = cli.tempdir()
    local old = home .. "/sparkgen/bytecode"
    assert(os.execute("mkdir -p " .. cli.quote(old)))
    -- what the removed bytecode cache wrote: a chunk per source file, here damaged
    local stem = (cli.HOME .. "/lua/sparkgen/cli.lua"):gsub("/", "%%")
    cli.write(old .. "/" .. stem .. ".1234.5678.luac", "\27Lua\84\0\25\147\r\n\26\n\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0\40\119\64\1\255\255\255\255")
    local r = cli.run({"--version"}, {env = {XDG_CACHE_HOME = home}})
    assert.equal(0, r.status)
    assert.matches("^sparkgen ", r.stdout)
    r = cli.run({"cache", "clear"}, {env = {XDG_CACHE_HOME = home}})
    local left = os.execute("test -e " .. cli.quote(old))
    cli.rmdir(home)
    assert.equal(0, r.status, r.stderr)
    assert.is_nil(left, "cache clear leaves the old bytecode directory")
  end)
end)

-- Shell completions, the manual page and `make install` into a staging directory.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")

describe("completions and the manual", function()
  for _, shell in ipairs({"bash", "zsh", "fish"}) do
    it("completes every command and its options in " .. shell, function()
      local r = cli.run({"completion", shell})
      assert.equal(0, r.status, r.stderr)
      for _, word in ipairs({"generate", "log", "init", "rules", "completion", "no-log", "keep-invalid"}) do
        assert.truthy(r.stdout:find(word, 1, true), word)
      end
    end)
  end

  it("gives bash the commands for a prefix and a command's options", function()
    local home = cli.tempdir()
    cli.write(home .. "/t.sh", [[
source <("$1" completion bash)
COMP_WORDS=(sparkgen lo); COMP_CWORD=1; _sparkgen; echo "${COMPREPLY[*]}"
COMP_WORDS=(sparkgen generate --no-l); COMP_CWORD=2; _sparkgen; echo "${COMPREPLY[*]}"
]])
    local out = cli.sh(("bash %s/t.sh %s"):format(home, cli.quote(cli.BIN)))
    cli.rmdir(home)
    assert.equal("log\n--no-log", out)
  end)

  it("rejects an unknown shell with the known ones", function()
    local r = cli.run({"completion", "tcsh"})
    assert.equal(2, r.status)
    assert.matches("'bash', 'zsh', 'fish'", r.stderr, 1, true)
  end)

  it("prints a man page with every command", function()
    local r = cli.run({"man"})
    assert.equal(0, r.status, r.stderr)
    assert.matches('^%.TH SPARKGEN 1 ', r.stdout)
    for _, c in ipairs({"generate", "exec", "log", "init", "schema"}) do
      assert.truthy(r.stdout:find("\n.SS " .. c .. "\n", 1, true), c)
    end
    assert.matches("\n%.SH EXIT STATUS\n", r.stdout)
  end)
end)

describe("make install", function()
  it("installs the binary, the engine, the manual and the completions under DESTDIR", function()
    local dest = cli.tempdir()
    local sanitize = os.getenv("SANITIZE") == "1" and "SANITIZE=1" or ""
    local ok = os.execute(("make -s -C %s install DESTDIR=%s %s >%s/log 2>&1"):format(
      cli.quote(cli.HOME), dest, sanitize, dest))
    local log = cli.slurp(dest .. "/log")
    local root = dest .. "/usr/local"
    local files = {}
    for _, f in ipairs({"bin/sparkgen", "share/man/man1/sparkgen.1", "share/bash-completion/completions/sparkgen",
                        "share/zsh/site-functions/_sparkgen", "share/fish/vendor_completions.d/sparkgen.fish",
                        "share/sparkgen/lua/sparkgen/main.lua", "lib/sparkgen/sparkgen_sqlite.so"}) do
      files[f] = io.open(root .. "/" .. f) ~= nil
    end
    local r = cli.run({"types"}, {bin = root .. "/bin/sparkgen",
      env = {SPARKGEN_HOME = root .. "/share/sparkgen", SPARKGEN_MODULE_DIR = root .. "/lib/sparkgen"}})
    cli.rmdir(dest)
    assert.is_true(ok, log)
    for f, present in pairs(files) do assert.is_true(present, f) end
    assert.matches("make sure /usr/local/bin is on your PATH", log, 1, true)
    assert.equal(0, r.status, r.stderr)
    assert.matches("revenue_by_category", r.stdout, 1, true)
  end)
end)

describe("the demo", function()
  it("ends by saying where the binary is and how to put it on PATH", function()
    local out = os.tmpname()
    local ok = os.execute(("env SPARKGEN=%s %s/examples/demo.sh >%s 2>&1"):format(
      cli.quote(cli.BIN), cli.quote(cli.HOME), out))
    local text = cli.slurp(out)
    os.remove(out)
    assert.is_true(ok, text)
    assert.matches("== Done. The binary is " .. cli.BIN, text, 1, true)
    assert.matches("make install PREFIX=~/.local", text, 1, true)
  end)
end)

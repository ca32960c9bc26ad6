-- The README's "Your first project" walkthrough, run as written: its shell blocks are
-- run in order and its file blocks (first line a comment naming the file) are written
-- where it says, so the README cannot drift from what sparkgen does.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")

local function walkthrough()
  local readme = cli.slurp(cli.HOME .. "/README.md")
  local section = readme:match("\n## Your first project[^\n]*\n(.-)\n## ")
  assert(section, "README has no 'Your first project' section")
  local script = {"set -e"}
  for lang, body in section:gmatch("```(%w+)\n(.-)```") do
    if lang == "sh" then
      script[#script + 1] = body
    else
      local path = body:match("^%-%- (%S+)\n") or body:match("^# (%S+)\n")
      assert(path, "a " .. lang .. " block of the walkthrough does not name its file")
      script[#script + 1] = ("cat > %s <<'WALKTHROUGH_EOF'\n%sWALKTHROUGH_EOF"):format(path, body)
    end
  end
  return table.concat(script, "\n")
end

describe("the README walkthrough", function()
  it("runs as written: init, types new, fill the type and template, generate, log", function()
    local home = cli.tempdir()
    os.execute(("mkdir -p %s/bin && ln -s %s %s/bin/sparkgen"):format(home, cli.quote(cli.BIN), home))
    cli.write(home .. "/walkthrough.sh", walkthrough())
    local cmd = ("cd %s && env -u XDG_DATA_HOME -u XDG_CONFIG_HOME HOME=%s PATH=%s/bin:$PATH bash %s/walkthrough.sh >%s/out 2>&1"):format(
      cli.quote(cli.HOME), home, home, home, home)
    local ok = os.execute(cmd)
    local out = cli.slurp(home .. "/out")
    local job = cli.slurp(home .. "/shop-project/jobs/weekly_refunds.py")
    local history = io.open(home .. "/.local/share/sparkgen/history.db") ~= nil
    cli.rmdir(home)
    assert.is_true(ok, out)
    assert.matches("weekly_refunds — Refunds per week", out, 1, true)
    assert.matches("sparkgen: wrote jobs/weekly_refunds.py", out, 1, true)
    assert.matches("1 +[%d-]+ [%d:]+ +generate +ok +orders weekly_refunds", out)
    assert.matches("job " .. home .. "/shop-project/jobs/weekly_refunds.py", out, 1, true)
    assert.matches("date_trunc(\"week\"", job, 1, true)
    assert.is_true(history)
  end)
end)

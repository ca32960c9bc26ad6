-- proc_spec.lua — sparkgen.proc: pipes both ways, an exact environment, timeouts,
-- exit statuses, no SIGPIPE death, no deadlock on big output, children never leaked.
local proc = require "sparkgen.proc"
local sys = require "sparkgen.sys"

local function alive(pid)
  return os.execute("kill -0 " .. math.tointeger(pid) .. " 2>/dev/null") == true
end

describe("sparkgen.proc", function()
  it("runs a program found on PATH and reports its exit status", function()
    local p = assert(proc.spawn{argv = {"sh", "-c", "exit 7"}})
    assert.is_true(math.type(p.pid) == "integer" and p.pid > 0)
    local how, code = p:wait()
    assert.are.equal("exit", how)
    assert.are.equal(7, code)
    p:close()
  end)

  it("reports a signal that ended the child", function()
    local p = assert(proc.spawn{argv = {"sh", "-c", "kill -9 $$"}})
    assert.are.same({"signal", 9}, {p:wait()})
    p:close()
  end)

  it("returns nil and a message for a program that does not exist", function()
    local p, err = proc.spawn{argv = {"no-such-program-sparkgen"}}
    assert.is_nil(p)
    assert.matches("cannot run no%-such%-program%-sparkgen: not found on PATH", err)
    local p2, err2 = proc.spawn{argv = {"/nonexistent/bin/x"}}
    assert.is_nil(p2)
    assert.matches("not an executable file", err2)
  end)

  it("returns nil and a message for a working directory that does not exist", function()
    local p, err = proc.spawn{argv = {"true"}, cwd = "/nonexistent-sparkgen-dir"}
    assert.is_nil(p)
    assert.matches("No such file or directory", err)
  end)

  it("raises on a programmer error in the options", function()
    assert.has_error(function() proc.spawn{argv = {}} end)
    assert.has_error(function() proc.spawn{argv = {"true"}, stdout = "file"} end)
    assert.has_error(function() proc.spawn{argv = {"true"}, env = {["A=B"] = "x"}} end)
  end)

  it("gives the child exactly the environment it is given", function()
    local p = assert(proc.spawn{argv = {"/usr/bin/env"}, env = {ONLY_THIS = "1", PATH = "/usr/bin:/bin"},
                                stdout = "pipe"})
    local out = p:communicate()
    assert.are.same({"ONLY_THIS=1", "PATH=/usr/bin:/bin"}, (function()
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      table.sort(lines)
      return lines
    end)())
    p:close()
  end)

  it("talks JSON-lines style: write a line, read a line, many times", function()
    local p = assert(proc.spawn{argv = {"cat"}, stdin = "pipe", stdout = "pipe"})
    for i = 1, 50 do
      assert.is_true(p:write(("line %d\n"):format(i)))
      assert.are.equal(("line %d"):format(i), p:read_line(5))
    end
    p:close_stdin()
    assert.are.same({nil, "eof"}, {p:read_line(5)})
    assert.are.same({"exit", 0}, {p:wait()})
    p:close()
  end)

  it("returns a last line that has no newline, then eof", function()
    local p = assert(proc.spawn{argv = {"printf", "a\\nb"}, stdout = "pipe"})
    assert.are.equal("a", p:read_line(5))
    assert.are.equal("b", p:read_line(5))
    assert.are.same({nil, "eof"}, {p:read_line(5)})
    p:close()
  end)

  it("reads what stdout has with read: the bytes, nil, \"timeout\" while it is silent, then eof", function()
    local p = assert(proc.spawn{argv = {"cat"}, stdin = "pipe", stdout = "pipe"})
    assert.are.same({nil, "timeout"}, {p:read(0.1)})
    assert.is_true(p:write("no newline"))
    assert.are.equal("no newline", p:read(5))
    p:close_stdin()
    assert.are.same({nil, "eof"}, {p:read(5)})
    p:close()
    local quiet = assert(proc.spawn{argv = {"true"}, stdout = "null"})
    assert.has_error(function() quiet:read(1) end, "proc: stdout is not a pipe")
    quiet:close()
  end)

  it("times out a read_line and a wait without losing the child", function()
    local p = assert(proc.spawn{argv = {"sleep", "5"}, stdout = "pipe"})
    local t0 = sys.monotonic()
    assert.are.same({nil, "timeout"}, {p:read_line(0.1)})
    assert.are.same({nil, "timeout"}, {p:wait(0.1)})
    assert.is_true(sys.monotonic() - t0 < 2)
    assert.is_true(p:kill())
    assert.are.same({"signal", 15}, {p:wait(5)})
    p:close()
  end)

  it("communicates without deadlock when the child writes megabytes to both pipes", function()
    local script = "import sys\nd=sys.stdin.read()\nsys.stderr.write('e'*3000000)\nsys.stdout.write(d*2)\n"
    local p = assert(proc.spawn{argv = {"python3", "-c", script}, stdin = "pipe", stdout = "pipe", stderr = "pipe"})
    local input = ("x"):rep(1500000)
    local out, err = p:communicate(input, 60)
    assert.are.equal(3000000, #out)
    assert.are.equal(3000000, #err)
    assert.are.same({"exit", 0}, {p:wait()})
    p:close()
  end)

  it("turns a write to a child that exited into an error, not SIGPIPE", function()
    local p = assert(proc.spawn{argv = {"true"}, stdin = "pipe"})
    p:wait()
    local ok, err
    for _ = 1, 10 do -- the first write may land in the pipe buffer before the reader is gone
      ok, err = p:write(("x"):rep(70000))
      if not ok then break end
    end
    assert.is_nil(ok)
    assert.matches("Broken pipe", err)
    p:close()
  end)

  it("sends stderr into stdout with stderr = \"stdout\"", function()
    local p = assert(proc.spawn{argv = {"sh", "-c", "echo out; echo err >&2"}, stdout = "pipe", stderr = "stdout"})
    local out = p:communicate()
    assert.matches("out\n", out)
    assert.matches("err\n", out)
    p:close()
  end)

  it("kills and reaps a running child on close and when it goes out of scope", function()
    local p = assert(proc.spawn{argv = {"sleep", "30"}})
    local pid = p.pid
    p:close()
    assert.is_false(alive(pid))
    assert.has_error(function() p:wait() end, "attempt to use a closed process handle")
    local pid2
    do
      local q <close> = assert(proc.spawn{argv = {"sleep", "30"}})
      pid2 = q.pid
    end
    assert.is_false(alive(pid2))
  end)

  it("does not hand its own descriptors to the child", function()
    local keep = assert(io.open("/dev/null"))
    local p = assert(proc.spawn{argv = {"sh", "-c", "ls /proc/self/fd | wc -l"}, stdout = "pipe"})
    local out = p:communicate()
    keep:close()
    -- 0, 1, 2 and the fd ls itself opens for the directory
    assert.is_true(tonumber(out) <= 4, "child saw " .. out .. " descriptors")
    p:close()
  end)

  it("polls several children for the first complete line", function()
    local slow = assert(proc.spawn{argv = {"sh", "-c", "sleep 2; echo slow"}, stdout = "pipe"})
    local fast = assert(proc.spawn{argv = {"sh", "-c", "echo fast"}, stdout = "pipe"})
    local ready = proc.poll({slow, fast}, 5)
    assert.are.equal(1, #ready)
    assert.are.equal(fast, ready[1])
    assert.are.equal("fast", fast:read_line(0))
    assert.are.same({}, proc.poll({slow}, 0.05))
    slow:close()
    fast:close()
  end)

  it("starts a detached process that outlives its handle", function()
    local marker = (os.getenv("TEST_TMP") or "/tmp") .. "/proc_spec_detached." .. sys.getpid()
    local pid = assert(proc.spawn{argv = {"sh", "-c", "sleep 0.2; echo done > " .. marker .. ".part && mv " .. marker .. ".part " .. marker},
                                  detach = true})
    assert.are.equal("integer", math.type(pid))
    local t0 = sys.monotonic()
    -- the child renames a finished file into place, so seeing the marker means it is complete
    local function exists() local f = io.open(marker); if f then f:close() end; return f ~= nil end
    while not exists() and sys.monotonic() - t0 < 5 do sys.sleep(0.05) end
    local f = assert(io.open(marker))
    assert.are.equal("done", f:read("l"))
    f:close()
    os.remove(marker)
  end)
end)

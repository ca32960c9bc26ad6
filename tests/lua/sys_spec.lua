-- sys_spec.lua — sparkgen.sys's file primitives: bounded reads of regular files only
-- (never blocking on a FIFO), atomic writes that refuse to replace anything but a
-- regular file, listings that fail instead of coming back short, and numbers range-
-- checked before they reach C.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local dir

local testlib = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")
local write, read = testlib.write, testlib.slurp

describe("sparkgen.sys.read_file", function()
  setup(function() dir = assert(util.tempdir("sys-spec")) end)
  teardown(function() util.remove_tree(dir) end)

  it("reads a regular file whole", function()
    write(dir .. "/a.txt", "one\0two")
    assert.equal("one\0two", sys.read_file(dir .. "/a.txt", 100))
  end)

  it("reads a file exactly at the limit", function()
    write(dir .. "/exact", ("x"):rep(10))
    assert.equal(("x"):rep(10), sys.read_file(dir .. "/exact", 10))
  end)

  it("refuses a file over the limit before reading it", function()
    write(dir .. "/big", ("x"):rep(11))
    local data, err = sys.read_file(dir .. "/big", 10)
    assert.is_nil(data)
    assert.equal(dir .. "/big: too large (11 bytes; the limit is 10)", err)
  end)

  it("refuses a character device at once (/dev/zero never ends)", function()
    local data, err = sys.read_file("/dev/zero", 1024)
    assert.is_nil(data)
    assert.equal("/dev/zero: not a regular file (a character device)", err)
  end)

  it("refuses a FIFO without waiting for a writer", function()
    assert(os.execute("mkfifo " .. dir .. "/fifo"))
    local t0 = sys.monotonic()
    local data, err = sys.read_file(dir .. "/fifo", 1024)
    assert.is_nil(data)
    assert.equal(dir .. "/fifo: not a regular file (a FIFO)", err)
    assert.is_true(sys.monotonic() - t0 < 1)
  end)

  it("refuses a directory", function()
    local data, err = sys.read_file(dir, 1024)
    assert.is_nil(data)
    assert.equal(dir .. ": not a regular file (a directory)", err)
  end)

  it("reports a missing file with the system's reason", function()
    local data, err = sys.read_file(dir .. "/missing", 1024)
    assert.is_nil(data)
    assert.equal(dir .. "/missing: No such file or directory", err)
  end)

  it("is what util.read_file uses, with a default limit", function()
    local data, err = util.read_file("/dev/zero")
    assert.is_nil(data)
    assert.matches("not a regular file", err)
    write(dir .. "/small", "abc")
    assert.is_nil((util.read_file(dir .. "/small", 2)))
  end)
end)

describe("sparkgen.sys.write_file", function()
  setup(function() dir = assert(util.tempdir("sys-spec")) end)
  teardown(function() util.remove_tree(dir) end)

  it("creates and then replaces a regular file, leaving no temp file", function()
    assert.is_true(sys.write_file(dir .. "/out", "first"))
    assert.is_true(sys.write_file(dir .. "/out", "second"))
    assert.equal("second", read(dir .. "/out"))
    assert.same({"out"}, sys.listdir(dir))
  end)

  it("refuses to replace a symbolic link and leaves it and its target alone", function()
    write(dir .. "/target", "precious")
    assert(os.execute(("ln -s %s/target %s/link"):format(dir, dir)))
    local ok, err = sys.write_file(dir .. "/link", "overwritten")
    assert.is_nil(ok)
    assert.equal(dir .. "/link: not replacing a symbolic link with a file", err)
    assert.equal("link", sys.lstat(dir .. "/link").type)
    assert.equal("precious", read(dir .. "/target"))
  end)

  it("refuses to replace a FIFO or a directory", function()
    assert(os.execute("mkfifo " .. dir .. "/pipe"))
    assert(sys.mkdir_p(dir .. "/sub"))
    local ok, err = sys.write_file(dir .. "/pipe", "x")
    assert.is_nil(ok)
    assert.equal(dir .. "/pipe: not replacing a FIFO with a file", err)
    ok, err = util.write_file(dir .. "/sub", "x")
    assert.is_nil(ok)
    assert.equal(dir .. "/sub: not replacing a directory with a file", err)
  end)

  it("reports a directory that does not exist", function()
    local ok, err = sys.write_file(dir .. "/no/such/file", "x")
    assert.is_nil(ok)
    assert.equal(dir .. "/no/such/file: No such file or directory", err)
  end)
end)

describe("sparkgen.sys checks", function()
  it("lstat tells a link from its target", function()
    local d = assert(util.tempdir("sys-spec"))
    write(d .. "/f", "x")
    assert(os.execute(("ln -s %s/f %s/l"):format(d, d)))
    assert.equal("file", sys.stat(d .. "/l").type)
    assert.equal("link", sys.lstat(d .. "/l").type)
    util.remove_tree(d)
  end)

  it("listdir fails on a missing directory instead of returning an empty list", function()
    local names, err = sys.listdir("/nonexistent-sparkgen-dir")
    assert.is_nil(names)
    assert.matches("No such file or directory", err)
  end)

  for _, v in ipairs({0 / 0, math.huge, -math.huge, 1e300}) do
    it("sleep refuses " .. tostring(v) .. " seconds instead of undefined behaviour", function()
      assert.has_error(function() sys.sleep(v) end)
    end)
  end

  it("sleep of zero or a negative duration returns at once", function()
    sys.sleep(0)
    sys.sleep(-1)
  end)
end)

-- sparkgen.sqlite: the thin SQLite binding the history is built on.
local sqlite = require "sparkgen.sqlite"
local util = require "sparkgen.util"

describe("sparkgen.sqlite", function()
  local dir, db
  before_each(function()
    dir = assert(util.tempdir("sparkgen-sqlite-spec"))
    db = assert(sqlite.open(dir .. "/t.db", {busy_timeout_ms = 100}))
    assert(db:exec("CREATE TABLE t (a, b)"))
  end)
  after_each(function()
    db:close()
    util.remove_tree(dir)
  end)

  it("binds and returns integers, floats, text with NUL bytes, NULL and booleans as Lua values", function()
    assert(db:query("INSERT INTO t VALUES (?1, ?2)", 42, 1.5))
    assert(db:query("INSERT INTO t VALUES (?1, ?2)", "x\0y", nil))
    assert(db:query("INSERT INTO t VALUES (?1, ?2)", true, false))
    local rows = assert(db:query("SELECT a, b FROM t ORDER BY rowid"))
    assert.equal(3, #rows)
    assert.equal(42, rows[1].a)
    assert.equal("integer", math.type(rows[1].a))
    assert.equal(1.5, rows[1].b)
    assert.equal("x\0y", rows[2].a)
    assert.is_nil(rows[2].b)
    assert.same({a = 1, b = 0}, rows[3])
  end)

  it("gives each run of a reused statement its own values, past the statements it keeps", function()
    for i = 1, 12 do assert(db:query(("INSERT INTO t VALUES (?1, %d)"):format(i), i * 10)) end
    for round = 1, 2 do
      for i = 1, 12 do
        local rows = assert(db:query(("SELECT a FROM t WHERE b = %d"):format(i)))
        assert.same({{a = i * 10}}, rows, "round " .. round)
      end
    end
    local unbound = assert(db:query("SELECT ?1 AS v"))
    assert(db:query("SELECT ?1 AS v", 5))
    assert.same({{}}, unbound)
    assert.same({{}}, assert(db:query("SELECT ?1 AS v"))) -- the 5 is not kept
  end)

  it("never splices a parameter into the SQL: quotes and semicolons stay data", function()
    local evil = "'); DROP TABLE t; --"
    assert(db:query("INSERT INTO t VALUES (?1, 0)", evil))
    local rows = assert(db:query("SELECT a FROM t WHERE a = ?1", evil))
    assert.equal(evil, rows[1].a)
  end)

  it("reports the row id and changes of the last write", function()
    assert(db:query("INSERT INTO t VALUES (1, 2)"))
    assert(db:query("INSERT INTO t VALUES (3, 4)"))
    assert.equal(2, db:last_insert_rowid())
    assert(db:query("UPDATE t SET b = 0"))
    assert.equal(2, db:changes())
  end)

  it("returns nil and SQLite's message for bad SQL", function()
    local rows, err = db:query("SELEC 1")
    assert.is_nil(rows)
    assert.matches('near "SELEC": syntax error', err, 1, true)
  end)

  it("raises for a value it cannot bind and for more values than parameters", function()
    assert.has_error(function() db:query("SELECT ?1", {}) end, "sqlite: parameter 1: cannot bind a table")
    assert.has_error(function() db:query("SELECT ?1", 1, 2) end, "sqlite: 2 values for 1 parameters")
  end)

  it("says the database is locked when another connection holds the write lock past the timeout", function()
    local other = assert(sqlite.open(dir .. "/t.db", {busy_timeout_ms = 50}))
    assert(db:exec("BEGIN IMMEDIATE"))
    local ok, err = other:exec("BEGIN IMMEDIATE")
    assert.is_nil(ok)
    assert.matches("database is locked", err, 1, true)
    assert(db:exec("COMMIT"))
    other:close()
  end)

  it("refuses a file that is not a database, with SQLite's reason", function()
    util.write_file(dir .. "/junk.db", ("not a database\n"):rep(100))
    local junk = assert(sqlite.open(dir .. "/junk.db"))
    local rows, err = junk:query("SELECT * FROM sqlite_master")
    assert.is_nil(rows)
    assert.matches("file is not a database", err, 1, true)
    junk:close()
  end)

  it("keeps a WAL database's log on close only when checkpoint_on_close is false", function()
    for _, keep in ipairs({false, true}) do
      local path = ("%s/wal-%s.db"):format(dir, tostring(keep))
      local d = assert(sqlite.open(path, {checkpoint_on_close = not keep}))
      assert(d:query("PRAGMA journal_mode = WAL"))
      assert(d:exec("CREATE TABLE x (a); INSERT INTO x VALUES (1)"))
      d:close()
      assert.equal(keep, util.file_exists(path .. "-wal"), "log kept: " .. tostring(keep))
      local again = assert(sqlite.open(path))
      assert.equal(1, again:query("SELECT a FROM x")[1].a)
      again:close()
    end
  end)

  it("raises on use after close", function()
    local d = assert(sqlite.open(dir .. "/u.db"))
    d:close()
    d:close() -- closing twice is harmless
    assert.has_error(function() d:query("SELECT 1") end, "sqlite: the database is closed")
  end)
end)

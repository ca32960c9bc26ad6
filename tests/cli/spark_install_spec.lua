-- End-to-end: `sparkgen spark install` with a stand-in python (SPARKGEN_PYTHON) whose
-- `-m venv DIR` makes a venv whose pip records its argv and environment, so what is
-- installed, where, and with which environment is pinned without reaching PyPI.
local cli = dofile(os.getenv("SPARKGEN_HOME") .. "/tests/lib/cli.lua")

local root = cli.tempdir()
local record = root .. "/pip-record"
-- pip sees only an allow-listed environment, so the record path is written into it.
cli.write(root .. "/python3", ([[
#!/bin/sh
# stand-in: python3 -m venv DIR
[ "$1" = "-m" ] && [ "$2" = venv ] || exit 9
mkdir -p "$3/bin"
printf '#!/bin/sh\nexit 0\n' > "$3/bin/python"
cat > "$3/bin/pip" <<'PIP'
#!/bin/sh
printf '%s\n' "$@" > "$STANDIN_PIP_RECORD"
env | sort > "$STANDIN_PIP_RECORD.env"
d=$(dirname "$0")
printf '#!/bin/sh\nexit 0\n' > "$d/spark-submit"
chmod +x "$d/spark-submit"
PIP
chmod +x "$3/bin/python" "$3/bin/pip"
]]):gsub("%$STANDIN_PIP_RECORD", record))
os.execute("chmod +x " .. cli.quote(root .. "/python3"))

local function install(extra, env)
  local e = {SPARKGEN_PYTHON = root .. "/python3", XDG_DATA_HOME = root .. "/data",
             PIP_CONFIG_FILE = "/dev/null", ANTHROPIC_API_KEY = "sk-ant-install-fake"}
  for k, v in pairs(env or {}) do e[k] = v end
  local argv = {"spark", "install"}
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  os.remove(record)
  return cli.run(argv, {env = e, cwd = root})
end

describe("sparkgen spark install", function()
  teardown(function() cli.rmdir(root) end)

  it("creates the venv under $XDG_DATA_HOME/sparkgen/venv with pinned pyspark and the Connect extras", function()
    local r = install()
    assert.equal(0, r.status, r.stderr)
    local venv = root .. "/data/sparkgen/venv"
    assert.matches("installed pyspark[connect]==4.3.0 pandas<3 into " .. venv, r.stdout, 1, true)
    local argv = cli.slurp(record)
    assert.matches("\ninstall\n", "\n" .. argv, 1, true)
    assert.matches("\npyspark[connect]==4.3.0\n", "\n" .. argv, 1, true)
    assert.matches("\npandas<3\n", "\n" .. argv, 1, true)
    assert.equal("pyspark[connect]==4.3.0 pandas<3\n", cli.slurp(venv .. "/.sparkgen-spark"))
  end)

  it("gives pip its own settings but none of sparkgen's secrets", function()
    install({"--force"})
    local env = cli.slurp(record .. ".env")
    assert.matches("\nPIP_CONFIG_FILE=/dev/null\n", "\n" .. env, 1, true)
    assert.is_nil(env:find("sk-ant-install-fake", 1, true))
  end)

  it("does nothing when the venv is up to date", function()
    local r = install()
    assert.equal(0, r.status, r.stderr)
    assert.matches("is up to date", r.stdout, 1, true)
    assert.is_nil(io.open(record))
  end)

  it("puts the venv where --venv says, relative to the current directory", function()
    local r = install({"--venv", "here/.venv"})
    assert.equal(0, r.status, r.stderr)
    assert.matches("into " .. root .. "/here/.venv", r.stdout, 1, true)
  end)

  it("is found by exec from any directory", function()
    local r = cli.run({"exec", "orders", "revenue_by_category", "--schema", cli.SHOP, "--db", "host=127.0.0.1 port=1 dbname=x"},
      {env = {XDG_DATA_HOME = root .. "/data", PATH = "/usr/bin:/bin", SPARK_HOME = false}, cwd = "/"})
    assert.equal(1, r.status)
    assert.is_nil(r.stderr:find("spark-submit not found", 1, true), r.stderr)
    assert.matches("the database is unreachable", r.stderr, 1, true)
  end)
end)

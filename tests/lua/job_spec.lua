-- job.lua: the rendered job is valid Python with the request baked in as literals,
-- reads through the read-only JDBC factory and holds no connection secrets.
local job = require "sparkgen.job"
local util = require "sparkgen.util"

local ROOT = os.getenv("SPARKGEN_HOME") or "."

-- Run python3 ARGS on the rendered job `text`, saved as job.py in a temporary directory
-- (args holds %s where its path goes). Returns ok, the output (stdout and stderr).
local function python_on(text, args)
  local dir = assert(util.tempdir("job-spec"))
  local path = dir .. "/job.py"
  assert(util.write_file(path, text))
  local p = io.popen("python3 " .. args:format(util.shell_quote(path)) .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  util.remove_tree(dir)
  return ok, out
end

local function compiles(text) return python_on(text, "-m py_compile %s") end

local SCHEMA = {
  tables_by_name = {
    orders = {schema = "public", name = "orders", rows = 5000000,
              stats = {partition_column = "order_id", lower = 1, upper = 5000000}},
    products = {schema = "sales", name = "Products", rows = 30},
  },
}
function SCHEMA:table(name) return self.tables_by_name[name] end

local function result(overrides)
  local r = {
    code = 'orders = read_table("orders")\nresult_df = orders.select("order_id")\n',
    description = "Order ids", tables_used = {"orders"},
    validation_checks = {{rule = "non_empty", description = "The result has at least one row."}},
    request = {source = "orders", type = "probe", context = {as_of = "2026-11-15", limit = "5", time_period = "all"}},
    provider = "template",
  }
  for k, v in pairs(overrides or {}) do r[k] = v end
  return r
end

local CFG = {spark = {fetch_size = 5000, partition_rows = 1000000, num_partitions = 4,
                      packages = "org.postgresql:postgresql:42.7.14"}}

describe("job.py_literal", function()
  it("escapes quotes, backslashes and newlines in strings", function()
    assert.equal([["a\"b\\c\nd"]], job.py_literal('a"b\\c\nd'))
  end)
  it("writes booleans, nil and numbers the Python way", function()
    assert.equal("[True, False, None, 3, 2.5]", job.py_literal({true, false, util.json_null, 3, 2.5}))
  end)
  it("turns a {date=} value into datetime.date", function()
    assert.equal("date(2026, 11, 5)", job.py_literal({date = "2026-11-05"}))
  end)
end)

describe("job.params_literal", function()
  it("types the context by the type's declared parameters", function()
    local typedef = {params = {limit = {type = "integer"}, active = {type = "boolean"}, period = {type = "enum"}}}
    assert.equal('{"active": False, "as_of": date(2026, 11, 15), "limit": 5, "period": "all"}',
      job.params_literal({limit = "5", active = "false", period = "all", as_of = "2026-11-15"}, typedef))
  end)
end)

describe("job.tables_literal", function()
  it("reads a big table in partitions bounded by its statistics", function()
    local text = job.tables_literal({"orders"}, SCHEMA, CFG.spark)
    assert.matches('"orders": {"dbtable": "public.orders", "lower": 1, "num_partitions": 4, '
      .. '"partition_column": "order_id", "upper": 5000000}', text, 1, true)
  end)
  it("reads a small table in one piece, with its schema-qualified quoted name", function()
    local text = job.tables_literal({"products"}, SCHEMA, CFG.spark)
    assert.matches('"products": {"dbtable": "sales.\\"Products\\""}', text, 1, true)
    assert.is_nil(text:find("partition_column", 1, true))
  end)
end)

describe("job.render", function()
  it("renders a job that python3 compiles", function()
    local text = assert(job.render(result(), {cfg = CFG, schema = SCHEMA}))
    local ok, out = compiles(text)
    assert.is_true(ok, out)
  end)

  it("wraps the body in transform(read_table, params) returning result_df", function()
    local text = assert(job.render(result(), {cfg = CFG, schema = SCHEMA}))
    assert.matches('def transform%(read_table, params%):\n    orders = read_table%("orders"%)\n'
      .. '    result_df = orders.select%("order_id"%)\n    return result_df\n', text)
  end)

  it("names each check with the rule and its row-counting expression", function()
    local text = assert(job.render(result(), {cfg = CFG, schema = SCHEMA}))
    assert.matches('("non_empty", "The result has at least one row.",\n     lambda df: ', text, 1, true)
  end)

  it("takes the credentials from the hand-over file and forces a read-only JDBC URL", function()
    local text = assert(job.render(result(), {cfg = CFG, schema = SCHEMA}))
    assert.matches('found = {name: os.environ.pop(name, None) for name in HANDOFF_VARIABLES}', text, 1, true)
    assert.matches('"SPARKGEN_JDBC_FILE"', text, 1, true)
    assert.matches('("readOnlyMode", "always")', text, 1, true)
    assert.matches('"driver": "org.postgresql.Driver"', text, 1, true)
    assert.matches("FETCH_SIZE = 5000\n", text, 1, true)
  end)

  it("keeps a request text with quotes and newlines inside comments", function()
    local r = result()
    r.request.text = 'revenue """ per\nday'
    local text = assert(job.render(r, {cfg = CFG, schema = SCHEMA}))
    assert.matches('#   revenue """ per\n#   day\n', text, 1, true)
    assert.is_true((compiles(text)))
  end)

  it("accepts JSON nulls in the result (a template result has no model)", function()
    local text = assert(job.render(result({model = util.json_null}), {cfg = CFG}))
    assert.matches("# Provider: template\n", text, 1, true)
  end)

  it("starts its session with SESSION_CONF, the settings py/sparkrun.py's shared session reads", function()
    local text = assert(job.render(result(), {cfg = CFG, schema = SCHEMA}))
    -- the rendered job's table, read without running the job, beside sparkrun's
    local _, out = python_on(text, "-c " .. util.shell_quote([[
import ast, json, sys
sys.path.insert(0, sys.argv[2])
import sparkrun
tree = ast.parse(open(sys.argv[1]).read())
job = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
           and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["SESSION_CONF"])
print(json.dumps([job, sparkrun.SESSION_CONF]))
]]) .. " %s " .. (util.shell_quote(ROOT .. "/py"):gsub("%%", "%%%%")))
    local both = util.json_decode(out)
    assert.is_table(both, out)
    assert.same({"spark.sql.variable.substitute", "false"}, both[1][2])
    assert.same(both[1], both[2])
    assert.matches("\n        for key, value in SESSION_CONF:\n            builder = builder.config(key, value)\n", text, 1, true)
  end)

  it("fails with a message for an unknown check rule", function()
    local text, err = job.render(result({validation_checks = {{rule = "no_such_rule"}}}), {cfg = CFG})
    assert.is_nil(text)
    assert.matches("no_such_rule", err, 1, true)
  end)
end)

describe("job.render embeds the body without changing a string literal", function()
  -- The literals' values as Python sees them in the rendered job's transform().
  local function literals(text)
    local _, out = python_on(text, "-c " .. util.shell_quote([[
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "transform")
print(json.dumps([n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and isinstance(n.value, str)]))
]]) .. " %s")
    return util.json_decode(out) or out
  end

  it("keeps the inside of multi-line strings, their indentation and trailing blanks", function()
    local sql = "\nSELECT a,   \n       b\t\n  FROM t  \n\n"
    local code = 'q = """' .. sql .. '"""\nnote = \'\'\'x  \n  y\'\'\'\nresult_df = read_table("t").selectExpr(q)\n'
    local text = assert(job.render(result({code = code}), {cfg = CFG, schema = SCHEMA}))
    local got = literals(text)
    assert.same({sql, "x  \n  y", "t"}, type(got) == "table" and {got[1], got[2], got[3]} or got)
  end)

  it("keeps a string continued with a backslash and ignores quotes in comments", function()
    local code = 'a = "one \\\n  two"  # a """ in a comment\nresult_df = read_table("t")\n'
    local text = assert(job.render(result({code = code}), {cfg = CFG, schema = SCHEMA}))
    assert.same({"one   two", "t"}, literals(text))
  end)

  it("still strips trailing blanks and indents the code lines", function()
    assert.equal('    x = 1\n\n    result_df = x', job.indent_body('\n  \nx = 1   \n\t\nresult_df = x  \n\n'))
  end)
end)

describe("job.render and star imports", function()
  it("reports `from ... import *` as a finding instead of a job that cannot compile", function()
    local code = 'from pyspark.sql.functions import *\nresult_df = read_table("orders").select(col("order_id"))\n'
    local text, err, finding = job.render(result({code = code}), {cfg = CFG, schema = SCHEMA})
    assert.is_nil(text)
    assert.matches("^line 1: star%-import: `from pyspark.sql.functions import %*` cannot run inside", err)
    assert.same({id = "star-import", line = 1, severity = "error"},
                {id = finding.id, line = finding.line, severity = finding.severity})
  end)

  it("does not mistake the text of a string for an import", function()
    local code = 's = """\nfrom x import *\n"""\nresult_df = read_table("orders")\n'
    assert.is_truthy(job.render(result({code = code}), {cfg = CFG, schema = SCHEMA}))
  end)
end)

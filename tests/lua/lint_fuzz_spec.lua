-- lint_fuzz_spec.lua — the SQL gate holds for every spelling Spark accepts.
-- 1. Spellings Spark 4.3 really ran (tests/lint_corpus/spark_spellings.json, made by
--    tests/spark/sql_spellings.py on the real Spark): lint refuses each spelling of a
--    forbidden function and passes each spelling of an allowed one.
-- 2. A seeded fuzz: a few hundred random spellings (case, backquotes, qualification,
--    IDENTIFIER('...') with escapes and split literals, comments and whitespace
--    between the name and its parenthesis) of allowed and forbidden functions, in every
--    context that takes SQL text; the verdict never changes with the spelling.
local lint = require "sparkgen.lint"
local util = require "sparkgen.util"

local ROOT = os.getenv("SPARKGEN_HOME") or "."
local SCHEMA = assert(util.json_decode(assert(util.read_file(ROOT .. "/examples/shop/schema.json"))))
local POLICY = {allow_names = {"spark"}}  -- spark.sql is one of the contexts

local function py(s) return util.python_string(s, '"') end

-- One body holding every SQL text of `lines`, one statement per line from line 3 on.
local function body(texts)
  local out = {'o = read_table("orders")', 'o.createOrReplaceTempView("o")'}
  for i, t in ipairs(texts) do out[#out + 1] = ("c%d = %s"):format(i, t) end
  out[#out + 1] = "result_df = o"
  return table.concat(out, "\n") .. "\n"
end

local CONTEXTS = {
  function(call) return ("o.withColumn(\"x\", F.expr(%s))"):format(py(call)) end,
  function(call) return ("o.selectExpr(\"order_id\", %s)"):format(py(call .. " AS x")) end,
  function(call) return ("o.filter(%s)"):format(py(call .. " IS NOT NULL")) end,
  function(call) return ("spark.sql(%s)"):format(py("SELECT " .. call .. " AS x FROM o")) end,
}

-- Lint `texts` (one per line) and return the findings by line.
local function judge(texts)
  local report = assert(lint.check(body(texts), {schema = SCHEMA, policy = POLICY}))
  local by_line = {}
  for _, f in ipairs(report.findings) do
    by_line[f.line] = by_line[f.line] or {}
    table.insert(by_line[f.line], f.id)
  end
  return by_line, report
end

local function expect_verdicts(texts, forbidden)
  local by_line, report = judge(texts)
  for i, text in ipairs(texts) do
    local got = by_line[i + 2]
    if forbidden then
      assert(got and #got == 1 and got[1] == "forbidden-sql-function",
        ("not refused (%s): %s"):format(util.json_encode(got or {}), text))
    else
      assert(got == nil, ("refused (%s): %s"):format(util.json_encode(got or {}), text))
    end
  end
  return report
end

describe("spellings Spark 4.3 ran", function()
  local data = assert(util.json_decode(assert(util.read_file(ROOT .. "/tests/lint_corpus/spark_spellings.json"))))
  local groups = {}
  for _, s in ipairs(data.spellings) do
    groups[s["function"]] = groups[s["function"]] or {verdict = s.verdict, calls = {}}
    assert(s.spark_ran, "the recorded Spark did not run " .. s.call)
    table.insert(groups[s["function"]].calls, s.call)
  end
  it("were recorded on Spark 4.3 for forbidden and allowed functions", function()
    assert.matches("^4%.3", data.spark)
    assert.truthy(groups.java_method and groups.reflect and groups.upper)
  end)
  for fn, g in pairs(groups) do
    it(("%s: every spelling is %s, in every context"):format(fn, g.verdict == "forbidden" and "refused" or "passed"), function()
      for _, ctx in ipairs(CONTEXTS) do
        local texts = {}
        for _, call in ipairs(g.calls) do texts[#texts + 1] = ctx(call) end
        expect_verdicts(texts, g.verdict == "forbidden")
      end
    end)
  end
end)

-- ---------------------------------------------------------------------------------
-- The fuzz

local ALLOWED = {{"upper", "CAST(order_id AS STRING)"}, {"abs", "order_id"},
                 {"coalesce", "order_id, 0"}, {"date_add", "order_date, 1"},
                 {"round", "total_amount, 2"}, {"concat_ws", "'-', 'a', 'b'"}}
local FORBIDDEN = {{"reflect", "'java.lang.System', 'getenv', 'X'"},
                   {"java_method", "'java.lang.System', 'getenv', 'X'"},
                   {"try_reflect", "'java.lang.System', 'getenv', 'X'"},
                   {"xpath_string", "'<a/>', '/a'"}, {"from_protobuf", "NULL, 'M', '/etc/passwd'"},
                   {"input_file_name", ""}}
local GAPS = {"", " ", "\n\t ", "/* c */", "/* a /* nested */ b */", " -- c\n", "\u{a0}",
              " -- c \\\n continued\n", "/**/ "}

local function pick(list) return list[math.random(#list)] end

local function random_case(s)
  return (s:gsub("%a", function(c) return math.random(2) == 1 and c:upper() or c:lower() end))
end

local function sql_string(s)
  local q = pick({"'", '"', "r'"})
  if q == "r'" then return "r'" .. s .. "'" end
  return q .. s .. q
end

-- The parts of a qualified name, each in a random case and maybe backquoted.
local function random_parts(parts)
  local out = {}
  for _, p in ipairs(parts) do
    p = random_case(p)
    if math.random(3) == 1 then p = "`" .. p .. "`" end
    out[#out + 1] = p
  end
  return out
end

-- A random spelling of a call of `name` with `args`.
local function spelling(name, args)
  local parts = ({{}, {"builtin"}, {"system", "builtin"}})[math.random(3)]
  local all = {}
  for _, p in ipairs(parts) do all[#all + 1] = p end
  all[#all + 1] = name
  local head
  if math.random(4) == 1 then
    -- IDENTIFIER('...'): the name inside a string, maybe escaped, maybe in two pieces
    local text = table.concat(random_parts(all), ".")
    local lit
    if math.random(3) == 1 and #text > 2 then
      local cut = math.random(#text - 1)
      lit = "'" .. text:sub(1, cut) .. "' '" .. text:sub(cut + 1) .. "'"
    elseif math.random(3) == 1 then
      local i = math.random(#text)
      local c = text:sub(i, i)
      lit = "'" .. text:sub(1, i - 1) .. ("\\u%04x"):format(c:byte()) .. text:sub(i + 1) .. "'"
    else
      lit = sql_string(text)
    end
    head = random_case("identifier") .. "(" .. lit .. ")"
  else
    head = table.concat(random_parts(all), pick({".", " . ", "/* c */."}))
  end
  return head .. pick(GAPS) .. "(" .. args .. ")"
end

local function fuzz(list, n)
  local texts = {}
  for _ = 1, n do
    local fn = pick(list)
    texts[#texts + 1] = pick(CONTEXTS)(spelling(fn[1], fn[2]))
  end
  return texts
end

describe("fuzzed spellings (fixed seed)", function()
  math.randomseed(20261204)
  it("never change the verdict on allowed functions (240 cases)", function()
    for _ = 1, 6 do expect_verdicts(fuzz(ALLOWED, 40), false) end
  end)
  it("never let a forbidden function through (240 cases)", function()
    for _ = 1, 6 do expect_verdicts(fuzz(FORBIDDEN, 40), true) end
  end)
end)

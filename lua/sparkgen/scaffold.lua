-- scaffold.lua — the files `sparkgen init`, `types new` and `rules new` write: a
-- commented project config, a user root (types/ rules/ prompts/ templates/) with one
-- example type, a type with its template and an eval case, a validation rule. Each
-- scaffold loads and passes lint as written, so a user starts from something that works.
-- Nothing is ever overwritten: write() refuses when any target exists, naming them all.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

--- Whether name can name a type or rule (it is also its file name).
function M.check_name(kind, name)
  if type(name) ~= "string" or not name:match("^[a-z][a-z0-9_]*$") then
    return nil, ("a %s name is lower case letters, digits and _, starting with a letter (got '%s')"):format(
      kind, tostring(name))
  end
  return true
end

--- Write files {{path=, text=}, ...}: all of them, or none when any exists already.
--- Returns the list of paths written or nil, message.
function M.write(files)
  local existing = {}
  for _, f in ipairs(files) do
    if sys.stat(f.path) then existing[#existing + 1] = f.path end
  end
  if #existing > 0 then
    return nil, ("will not overwrite %s (remove %s or choose another name)"):format(
      table.concat(existing, ", "), #existing == 1 and "it" or "them")
  end
  local written = {}
  for _, f in ipairs(files) do
    local ok, err = sys.mkdir_p(util.dirname(f.path))
    if ok then ok, err = util.write_file(f.path, f.text) end
    if not ok then return nil, ("cannot write %s: %s"):format(f.path, tostring(err)) end
    written[#written + 1] = f.path
  end
  return written
end

local function title(name)
  local s = name:gsub("_", " ")
  return s:sub(1, 1):upper() .. s:sub(2)
end

-- ------------------------------------------------------------------ a new type

local TYPE = [==[
-- %s — what one row of the result is, in a sentence (sparkgen types shows it).
return {
  name = %q,
  summary = %q,
  -- The tables the template reads besides the request's source table, e.g.
  -- {"orders", "refunds"}: each must exist (or be mapped with --table NAME=TABLE), and
  -- the template reads it as read_table("$(tables.orders)").
  tables = {},
  -- Context parameters (--context min_rows=1), e.g.
  --   time_period = {type = "enum", values = {"last_7_days", "last_month", "ytd", "all"},
  --                  default = "last_month", doc = "which rows count"},
  --   as_of = {type = "date", doc = "reference date for the period (default: today)"},
  -- Types: string, integer, number, boolean, enum (with values), date (YYYY-MM-DD).
  params = {},
  complexity = "low",             -- low | medium | high
  checks = {                      -- validation rules the job runs on its result (sparkgen rules)
    {rule = "non_empty"},
    {rule = "required_columns", columns = {"rows"}},
    {rule = "positive", column = "rows", allow_zero = true},
  },
  guidance = [[
Prose for the model when it writes this type instead of the template: business rules,
grain of the result, pitfalls (joins that multiply rows, nulls, time zones).]],
  template = %q,
}
]==]

local TEMPLATE = [[
# %s — the body of the job: it runs inside transform(read_table, params).
# Read tables only with read_table("..."): the request's source table is inserted
# below, and a table the type declares in `tables` is inserted the same way with
# tables.NAME. Read the context from params["..."]; assign the final DataFrame to
# result_df. F (pyspark.sql.functions), T, Window, date and timedelta are in scope,
# and period_bounds(params["time_period"], params["as_of"]) gives a period's dates.
# (This file is a template: lines starting with %% are Lua. See the README.)
result_df = read_table("$(source)").agg(F.count(F.lit(1)).alias("rows"))
]]

local EVAL = [[
-- eval/%s.lua — cases for the %s type: sparkgen eval %s
-- Each case is a request and the rows it must give, as reference SQL run on the
-- database (or expected_rows). Write the SQL from the question, not from the template.
return {
  name = %q,
  source = %q,           -- the table the requests start from
  context = {as_of = %q},
  cases = {
    {name = %q, type = %q, context = {%s},
     reference_sql = [=[
%s]=]},
  },
}
]]

-- The Lua text of a type copied from another: its file with the names changed.
local function copied_type(from, name, template)
  local text = assert(util.read_file(from.path))
  local function swap(pattern, repl)
    local out, n = text:gsub(pattern, repl, 1)
    text = out
    return n
  end
  swap("^%-%- " .. from.name:gsub("%p", "%%%0"), "-- " .. name)
  if swap('name%s*=%s*"' .. from.name:gsub("%p", "%%%0") .. '"', ("name = %q"):format(name)) == 0 then
    return nil, ("cannot copy %s: its name field is not written name = %q"):format(from.path, from.name)
  end
  if from.template then
    swap('template%s*=%s*"[^"]*"', ("template = %q"):format(template))
  end
  return text
end

--- The files of a new type under user root `root`: the type, its template and an eval
--- case. opts: from = an existing type definition to copy, source = the eval's table.
function M.type_files(root, name, opts)
  opts = opts or {}
  local template = "types/" .. name .. ".py"
  local files = {}
  local from = opts.from
  local type_text, template_text
  if from then
    local err
    type_text, err = copied_type(from, name, template)
    if not type_text then return nil, err end
    if from.template then
      local paths = require "sparkgen.paths"
      local src = paths.find("templates", from.template)
      template_text = src and util.read_file(src)
      if not template_text then return nil, ("cannot read the template of %s (%s)"):format(from.name, from.template) end
    end
  else
    type_text = TYPE:format(name, name, title(name), template)
    template_text = TEMPLATE:format(name)
  end
  files[#files + 1] = {path = root .. "/types/" .. name .. ".lua", text = type_text}
  if template_text then files[#files + 1] = {path = root .. "/templates/" .. template, text = template_text} end
  local source = opts.source or (from and from.tables and from.tables[1]) or "TABLE"
  local context = ""
  local sql = from and ("-- the rows %s should give, written from the question\nSELECT * FROM %s"):format(name, source)
    or ("SELECT count(*) AS rows FROM %s"):format(source)
  files[#files + 1] = {path = root .. "/eval/" .. name .. ".lua",
                       text = EVAL:format(name, name, root .. "/eval/" .. name .. ".lua", name, source,
                                          util.today(), name .. "_example", name, context, sql)}
  return files
end

-- ------------------------------------------------------------------ a new rule

local RULE = [[
-- %s — one sentence: what the rule guarantees about a result.
-- A check {rule = %q, column = "amount"} in a type runs pyspark(p) in the job with
-- `df` bound to the result: the expression counts the violating rows (0 = pass).
return {
  name = %q,
  summary = %q,
  params = {
    -- Declared like type parameters; "list" is a list of strings.
    column = {type = "string", required = true, doc = "the column to check"},
  },
  describe = function(p)
    return ("Column %%s is never null."):format(p.column)
  end,
  pyspark = function(p, py)
    -- py.col(name) is the column expression; py.str(s) a Python string literal.
    return ("df.filter(%%s.isNull()).count()"):format(py.col(p.column))
  end,
}
]]

--- The file of a new validation rule under user root `root`.
function M.rule_files(root, name)
  return {{path = root .. "/rules/" .. name .. ".lua", text = RULE:format(name, name, name, title(name))}}
end

-- ------------------------------------------------------------------ a project

local CONFIG = [[
-- sparkgen.lua — this project's configuration (sparkgen reads ./sparkgen.lua, or
-- --config FILE). Every key is checked: a misspelt one is an error naming the closest.
-- The full list with defaults is `DEFAULTS` in lua/sparkgen/config.lua; README.md
-- explains each. Uncomment what you need.
return {
  -- This directory is a user root: its types/, rules/, prompts/ and templates/ come
  -- before the built-in ones (a relative path is relative to this file).
  paths = {"."},

  -- Where the schema comes from: a live PostgreSQL database (read-only; the password
  -- belongs in ~/.pgpass or PGPASSWORD, never here) or a JSON snapshot.
  -- db = "postgresql://analyst@warehouse:5432/shop?sslmode=require",
  -- schema = "schema.json",      -- sparkgen schema dump schema.json
  -- schemas = {"public"},
  -- schema_ttl = 1800,           -- seconds a cached catalog snapshot stays fresh

  -- The model (the key comes from ANTHROPIC_API_KEY, never from a file).
  -- provider = "anthropic",      -- template | anthropic | openai
  -- anthropic = {model = "claude-sonnet-5"},
  -- max_repairs = 2,

  -- The built-in types' table names, when this database spells them differently.
  -- tables = {orders = "sales.orders", order_items = "sales.order_lines"},

  -- The history of generations (sparkgen log).
  -- history = {enabled = true},

  -- Running jobs.
  -- spark = {master = "local[*]"},
}
]]

--- The files of a new project in dir: the config and a user root with one example type.
function M.project_files(dir)
  local files = {{path = dir .. "/sparkgen.lua", text = CONFIG}}
  for _, f in ipairs(assert(M.type_files(dir, "row_count"))) do files[#files + 1] = f end
  for _, sub in ipairs({"rules", "prompts"}) do
    files[#files + 1] = {path = dir .. "/" .. sub .. "/README", text = ({
      rules = "Validation rules: one Lua file per rule (sparkgen rules new NAME writes one).\n",
      prompts = "Prompts that shadow the built-in ones (system.md, schema.md, generate.md, repair.md):\n" ..
                "copy one from the built-in prompts/ and edit it.\n"})[sub]}
  end
  return files
end

return M

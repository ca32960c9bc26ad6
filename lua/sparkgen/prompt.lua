-- prompt.lua — builds the provider-neutral request a model is asked: the system prompt,
-- the schema block (sent as its own, cacheable content block), the request text and the
-- one forced tool whose input schema is the GeneratedCode object. The words live in
-- prompts/*.md (system.md, schema.md, generate.md, repair.md) so a team can shadow
-- any of them from its own root without touching Lua; this file only prepares the
-- values the templates print, and quotes everything that came from a database.
local cjson = require "cjson.safe"
local template = require "sparkgen.template"
local util = require "sparkgen.util"

local M = {}

M.TOOL_NAME = "emit_code"
M.COMPLEXITIES = {"low", "medium", "high"}

--- Quote a string that is data (a database comment, a user's text): JSON escaping
--- keeps it on one line and inside its quotes, and `<`/`>` are escaped so the text
--- can never close (or open) the <schema> delimiter around it.
function M.quote(s)
  local q = cjson.encode(tostring(s)) or '""'
  q = q:gsub("\\/", "/"):gsub("<", "\\u003c"):gsub(">", "\\u003e")
  return q
end

-- Identifiers are printed bare when they are plain, quoted (as data) otherwise.
-- Remembered (bounded): the same column names recur in every table of a schema block.
local ident_memo, ident_memo_n = {}, 0
local function ident_part(s)
  local out = ident_memo[s]
  if out then return out end
  local text = tostring(s)
  out = text:match("^[%a_][%w_]*$") and text or M.quote(text)
  if ident_memo_n >= 4096 then ident_memo, ident_memo_n = {}, 0 end
  ident_memo[s], ident_memo_n = out, ident_memo_n + 1
  return out
end

local function table_ident(t)
  if t.schema and t.schema ~= "" then return ident_part(t.schema) .. "." .. ident_part(t.name) end
  return ident_part(t.name)
end

local function names(list)
  local out = {}
  for i, n in ipairs(list or {}) do out[i] = ident_part(n) end
  return table.concat(out, ", ")
end

local function is_set(v)
  return v ~= nil and v ~= util.json_null
end

-- One line per column, names and types padded to the table's widest (capped) so the
-- block reads as a table: `name  type  not null  [default ...]  [comment: "..."]`.
local function column_lines(t)
  local wn, wt = 0, 0
  local idents, ctypes = {}, {}
  for i, c in ipairs(t.columns or {}) do
    idents[i], ctypes[i] = ident_part(c.name), tostring(c.type or "?")
    wn = math.max(wn, #idents[i])
    wt = math.max(wt, #ctypes[i])
  end
  wn, wt = math.min(wn, 32), math.min(wt, 32)
  local out = {}
  for i, c in ipairs(t.columns or {}) do
    local name, ctype = idents[i], ctypes[i]
    local parts = {name .. (" "):rep(wn - #name), ctype .. (" "):rep(wt - #ctype),
                   c.nullable == false and "not null" or "null"}
    if c.default ~= nil and c.default ~= false then parts[#parts + 1] = "default " .. M.quote(c.default) end
    if c.generated then parts[#parts + 1] = "generated" end
    if c.comment and c.comment ~= "" then parts[#parts + 1] = "comment: " .. M.quote(c.comment) end
    local line = table.concat(parts, "  ")
    -- A trailing-blank trim only when there is one: "%s+$" retries at every blank of
    -- the padding (quadratic in it), ~5 us a line.
    if line:find("^%s", -1) then line = line:gsub("%s+$", "") end
    out[i] = line
  end
  return out
end

-- The foreign keys among the selected tables, each {from=, columns=, to=, ref_columns=}.
-- They come from the caller's list (from S:foreign_keys) and from each table's own
-- foreign_keys field; either may be missing, and duplicates are dropped.
local function relationships(tables, fks)
  local selected, by_ident = {}, {}
  for _, t in ipairs(tables) do
    local id = table_ident(t)
    selected[id] = true
    by_ident[id] = t
  end
  local out, seen = {}, {}
  local function add(from_t, fk)
    local to = table_ident({schema = fk.ref_schema or from_t.schema, name = fk.ref_table})
    if not selected[to] then return end
    local from = table_ident(from_t)
    local key = from .. "(" .. names(fk.columns) .. ")->" .. to .. "(" .. names(fk.ref_columns) .. ")"
    if seen[key] then return end
    seen[key] = true
    out[#out + 1] = {from = from, columns = fk.columns or {}, to = to, ref_columns = fk.ref_columns or {}, key = key}
  end
  for _, t in ipairs(tables) do
    for _, fk in ipairs(t.foreign_keys or {}) do add(t, fk) end
  end
  for _, fk in ipairs(fks or {}) do
    -- A list entry names its own table (schema/table, or from_schema/from_table).
    local name = fk.table or fk.from_table
    if name then
      local from_t = {schema = fk.schema or fk.from_schema, name = name}
      if selected[table_ident(from_t)] then add(from_t, fk) end
    end
  end
  table.sort(out, function(a, b) return a.key < b.key end)
  return out
end

local function value_text(v)
  if type(v) == "string" then return M.quote(v) end
  if type(v) == "table" then return M.quote(util.json_encode(v)) end
  return tostring(v)
end

-- The request's context as a sorted list for generate.md, with the type's docs.
local function context_list(ctx, typedef)
  local out = {}
  local declared = typedef and typedef.params or {}
  for _, k in ipairs(util.sorted_keys(ctx or {})) do
    local p = declared[k] or {}
    local doc = {}
    if p.type == "enum" and p.values then doc[#doc + 1] = "one of " .. table.concat(p.values, ", ") end
    if p.type and p.type ~= "enum" then doc[#doc + 1] = p.type end
    if p.doc then doc[#doc + 1] = p.doc end
    out[#out + 1] = {name = k, value = ctx[k], value_text = value_text(ctx[k]),
                     doc_text = #doc > 0 and ("  (" .. table.concat(doc, "; ") .. ")") or ""}
  end
  return out
end

-- Rule params as `(columns: list, column: string)` for the system prompt.
local function params_text(rule)
  local ps = {}
  for _, k in ipairs(util.sorted_keys(rule.params or {})) do
    local p = rule.params[k]
    local t = type(p) == "table" and (p.type or "value") or tostring(p)
    ps[#ps + 1] = k .. ": " .. t .. ((type(p) == "table" and p.required) and " (required)" or "")
  end
  if #ps == 0 then return "" end
  return " {" .. table.concat(ps, ", ") .. "}"
end

-- A type's declared checks, as sentences for "include at least these".
local function expected_checks(typedef)
  local out = {}
  for _, c in ipairs(typedef and typedef.checks or {}) do
    local params = {}
    for _, k in ipairs(util.sorted_keys(c)) do
      if k ~= "rule" and k ~= "description" then params[k] = c[k] end
    end
    out[#out + 1] = ("`%s` with params %s"):format(tostring(c.rule), util.json_encode(next(params) and params or {}))
  end
  return out
end

-- A copy of a schema table with JSON nulls turned into nil, so the templates can test
-- fields with plain `if` (cjson.null is a truthy userdata).
local function clean_table(t)
  local function v(x) if is_set(x) then return x end return nil end
  local cols = {}
  for i, c in ipairs(t.columns or {}) do
    cols[i] = {name = c.name, type = v(c.type), nullable = v(c.nullable), default = v(c.default),
               generated = v(c.generated), comment = v(c.comment)}
  end
  local rows = v(t.rows)
  local out = {schema = v(t.schema), name = t.name, kind = v(t.kind), rows = rows and math.tointeger(rows) or rows,
               comment = v(t.comment), primary_key = v(t.primary_key), columns = cols,
               foreign_keys = v(t.foreign_keys)}
  -- Formatted here, on the plain copy: the template sees the table through the
  -- sandbox's read-only view, where each field read is a metamethod call (formatting
  -- 20 columns that way took most of a 5-table schema block's 1.5 ms).
  out.lines = column_lines(out)
  return out
end

-- A rule parameter's JSON Schema: the declared type in the subset strict tool use
-- accepts (no string lengths, number ranges or patterns: those stay in checks.lua).
local PARAM_TYPES = {string = "string", date = "string", enum = "string", integer = "integer",
                     number = "number", boolean = "boolean"}
local function param_schema(decl)
  if decl.type == "list" then
    return {type = "array", items = {anyOf = {{type = "string"}, {type = "number"}}}}
  end
  return {type = PARAM_TYPES[decl.type] or "string"}
end

-- Every parameter any rule declares, one property each; a name two rules type
-- differently accepts either type (date_range's min is a date, value_between's a number).
local function params_properties(rules)
  local props, kinds = {}, {}
  for _, r in ipairs(rules or {}) do
    for _, pname in ipairs(util.sorted_keys(type(r.params) == "table" and r.params or {})) do
      local s = param_schema(r.params[pname])
      local key = s.items and "array" or s.type -- param_schema gives one schema per key
      kinds[pname] = kinds[pname] or {}
      if not kinds[pname][key] then
        kinds[pname][key] = true
        local prev = props[pname]
        if not prev then
          props[pname] = s
        elseif prev.anyOf then
          prev.anyOf[#prev.anyOf + 1] = s
        else
          props[pname] = {anyOf = {prev, s}}
        end
      end
    end
  end
  return props
end

--- The emit_code tool: its input schema is the GeneratedCode object the generator
--- needs. `rules` (checks.list()) restricts validation_checks[].rule to known names and
--- declares their parameters. The schema stays inside what strict tool use accepts
--- (every object closed with additionalProperties = false; no length, range or pattern
--- keywords), so capable models can be sent `strict: true` (llm/models.lua).
--- The tool is frozen (util.json_freeze): nothing may change it after it is built.
function M.tool(rules)
  local rule_schema = {type = "string", description = "The name of a validation rule."}
  if rules and #rules > 0 then
    local enum = {}
    for i, r in ipairs(rules) do enum[i] = r.name end
    table.sort(enum)
    rule_schema.enum = enum
  end
  return util.json_freeze({
    name = M.TOOL_NAME,
    description = "Return the PySpark body that answers the request, with its description, "
      .. "the tables it reads, its complexity and the validation checks its result must pass.",
    input_schema = util.json_freeze({
      type = "object",
      properties = {
        code = {type = "string", description = "The PySpark body: reads tables with read_table(), "
          .. "reads parameters from params, assigns the final DataFrame to result_df."},
        description = {type = "string", description = "One or two sentences for the reviewer: "
          .. "what one row of the result is, and any assumption made."},
        tables_used = {type = "array", items = {type = "string"},
                       description = "Every table passed to read_table(), as written there."},
        estimated_complexity = {type = "string", enum = M.COMPLEXITIES},
        validation_checks = {
          type = "array",
          description = "Checks on result_df that a correct answer passes.",
          items = {
            type = "object",
            properties = {
              rule = rule_schema,
              params = {type = "object", properties = params_properties(rules), additionalProperties = false,
                        description = "The rule's parameters, e.g. {\"columns\": [\"a\"]}."},
              description = {type = "string"},
            },
            required = {"rule"},
            additionalProperties = false,
          },
        },
      },
      required = {"code", "description", "tables_used", "estimated_complexity", "validation_checks"},
      additionalProperties = false,
    }),
  })
end

local function render(name, env)
  local text, err = template.render("prompts", name, env)
  if not text then return nil, err end
  return text
end

local function base_env()
  return {quote = M.quote, ident = table_ident, names = names, trim = util.trim,
          column_lines = function(t) return t.lines or column_lines(t) end,
          ipairs = ipairs, pairs = pairs, tostring = tostring}
end

--- The first words of a request, for messages that must say which request failed.
function M.label(request)
  local r = request or {}
  local what = r.text or (type(r.type) == "table" and r.type.name) or r.type or "request"
  local s = tostring(what):gsub("%s+", " ")
  if #s > 60 then s = s:sub(1, 57) .. "..." end
  return ("%s (source %s)"):format(s, tostring(r.source or "?"))
end

--- Build the provider-neutral request:
---   build{request = {source=, type=typedef|name|nil, text=, context={}}, typedef = typedef|nil,
---         tables = {...}, foreign_keys = {...}, rules = checks.list(), cfg = cfg,
---         memo = {}?}   (one table shared by the builds of a batch: see below)
--- → {system=, schema_block=, user=, tool=, max_tokens=, temperature=, label=}
---   or nil, message (a prompt file is missing or broken).
function M.build(args)
  assert(type(args) == "table" and type(args.request) == "table", "prompt.build: args.request required")
  local req = args.request
  -- The type may come as its own argument (generator.prepare gives request.type as a
  -- name) or as the table itself in request.type.
  local typedef = args.typedef or (type(req.type) == "table" and req.type or nil)
  local cfg = args.cfg or {}

  -- A batch passes one `memo` table to every build: the system prompt, the tool and
  -- the schema block of a set of tables are then rendered once, not once per request
  -- (they are the same for every request over one schema), and every request shares
  -- the same strings.
  local memo = args.memo
  local system, err = memo and memo.system
  if not system then
    local rules = {}
    for i, r in ipairs(args.rules or {}) do
      rules[i] = {name = r.name, summary = r.summary, params_text = params_text(r)}
    end
    table.sort(rules, function(a, b) return a.name < b.name end)
    local env = base_env()
    env.rules = rules
    system, err = render("system.md", env)
    if not system then return nil, err end
    if memo then memo.system = system end
  end

  local schema_key, schema_block
  if memo then
    local ids = {}
    for i, t in ipairs(args.tables or {}) do ids[i] = table_ident(t) end
    table.sort(ids)
    schema_key = table.concat(ids, "\0") .. "\0" .. #(args.foreign_keys or {})
    memo.schema = memo.schema or {}
    schema_block = memo.schema[schema_key]
  end
  if not schema_block then
    local tables = {}
    for i, t in ipairs(args.tables or {}) do tables[i] = clean_table(t) end
    -- Sorted by name, not by relevance: the same set of tables gives the same block
    -- whatever the request, so the provider's prompt cache can reuse it.
    table.sort(tables, function(a, b)
      if (a.schema or "") ~= (b.schema or "") then return (a.schema or "") < (b.schema or "") end
      return a.name < b.name
    end)
    local env = base_env()
    env.tables = tables
    env.relationships = relationships(tables, args.foreign_keys)
    schema_block, err = render("schema.md", env)
    if not schema_block then return nil, err end
    if memo then memo.schema[schema_key] = schema_block end
  end

  local env = base_env()
  env.request = req
  env.typedef = typedef or false -- templates test `if typedef`; an absent name is an error
  env.context = context_list(req.context, typedef)
  env.expected_checks = expected_checks(typedef)
  -- The type's table names this database spells differently (--table / config tables).
  env.table_map = {}
  for _, k in ipairs(util.sorted_keys(req.tables or {})) do
    env.table_map[#env.table_map + 1] = {name = k, table = req.tables[k]}
  end
  local user
  user, err = render("generate.md", env)
  if not user then return nil, err end
  if memo and not memo.tool then memo.tool = M.tool(args.rules) end

  return {
    system = system,
    schema_block = schema_block,
    user = user,
    tool = memo and memo.tool or M.tool(args.rules),
    max_tokens = math.tointeger(cfg.max_tokens) or 8192,
    temperature = cfg.temperature or 0,
    label = M.label(req),
  }
end

--- A repair request: the base request plus the previous code and the review findings
--- (repair.md), appended to the request text so the cached prefix (tool, system,
--- schema block) stays the same. repair(base, {code=, findings={{id=, line=, message=}}})
--- → request or nil, message.
function M.repair(base, previous)
  assert(type(base) == "table" and type(previous) == "table", "prompt.repair: base and previous required")
  local env = base_env()
  env.code = previous.code or ""
  env.findings = previous.findings or {}
  local text, err = render("repair.md", env)
  if not text then return nil, err end
  local out = util.copy(base)
  out.user = base.user .. "\n" .. text
  out.turns = nil
  out.repair = (base.repair or 0) + 1
  return out
end

--- The model answers validation_checks as {rule=, params={...}, description=}; the
--- result shape (docs/internals.md) is {rule=, <params>..., description=}.
function M.flatten_checks(list)
  local out = util.array({})
  for _, c in ipairs(list or {}) do
    local flat = {rule = c.rule, description = c.description}
    if type(c.params) == "table" then
      for k, v in pairs(c.params) do
        if flat[k] == nil then flat[k] = v end
      end
    end
    out[#out + 1] = flat
  end
  return out
end

return M

-- lint.lua — static checks of generated PySpark code against the schema and a policy.
--
-- Model output is untrusted input. py/analyze.py reads the code with Python's own
-- parser (never runs it) and reports facts as JSON; this module judges those facts, so
-- a team changes the policy here (or in its config) without touching the analyser.
--
--   lint.check(code, {schema = S, policy = cfg.lint, python = path?})
--     -> report | nil, message (the analyser could not run, or a bad policy key)
--   lint.check_async(code, opts, cb)  the same report to cb(report | nil, message),
--     delivered by lint.poll(timeout_s?) / lint.wait() while other work goes on
--     (the analyser runs as a service: sparkgen.analyzer)
--   report = {ok = bool,                 -- no finding of severity "error"
--             findings = {{id=, severity = "error"|"warning", line=, col=, message=,
--                          suggestions = {...}}, ...},   -- sorted by line
--             tables_used = {...},       -- resolved names of the literal read_table()s
--             complexity = "low"|"medium"|"high",
--             partial = bool,            -- true when python3 was missing
--             facts = {...}}             -- the analyser's output (see py/analyze.py)
--   lint.python(lint_cfg?) -> path | nil, message
--   lint.model_claims(report, {tables_used=, estimated_complexity=}) -> {finding, ...}
--   lint.policy(overrides?) -> policy | nil, message
--   lint.format(finding, file?) -> "FILE:LINE:COL: error|warning: id: message (did you mean: a, b?)"
--
-- Finding ids. Errors: syntax-error, no-result-df, read-table-not-literal,
-- unknown-table, forbidden-read (spark.read, spark.table, jdbc, files, SQL over
-- tables that no read_table frame registered), unknown-column, write-forbidden,
-- sql-not-select (not one query; TRANSFORM ... USING), forbidden-sql-function (off
-- the allow-list in lint/sql_functions.lua), sql-unreadable (SQL text that cannot be
-- checked), forbidden-call, forbidden-import. Warnings: collect-unaggregated,
-- cross-join, join-without-key, wall-clock, python-missing, no-schema, model-claim.
--
-- The policy (strict by default; `cfg.lint` in a config file overrides it):
--   allow_imports        top-level packages the code may import (extends the default
--                        list below), e.g. {"numpy"}
--   forbid_names         names the code may not use at all (extends the defaults:
--                        os, subprocess, socket, requests, eval, exec, compile, open,
--                        __import__, getattr tricks, ...)
--   allow_names          names taken off the forbidden list, e.g. {"getattr"}
--   allow_sql_functions  SQL functions allowed beyond the built-in allow-list
--                        (lint/sql_functions.lua), e.g. {"my_udf", "cat.db.fn"}
--   forbid_sql_functions SQL functions taken off the allow-list
--   forbid_calls         dotted calls refused (extends spark.stop, spark.newSession:
--                        the session is shared by every job a runner imports)
--   forbid_methods       method names refused on any object (extends pipe:
--                        rdd.pipe("cmd") runs a shell command on every executor)
--   errors               warning ids to treat as errors, e.g. {"cross-join"}
--   warnings             error ids to report as warnings only (use with care)
--   ignore               ids not reported at all
--   python               the python3 interpreter to run the analyser with
-- Example, in sparkgen.lua: lint = {allow_imports = {"numpy"}, errors = {"cross-join"}}
--
-- Full job files: when the file defines `def transform(read_table, ...)` (a job
-- rendered by sparkgen), only that function's body is judged — the scaffolding around
-- it (SparkSession, the JDBC read_table, environment credentials) is sparkgen's own
-- template, which legitimately imports os and reads with spark.read. Line numbers are
-- those of the file. Everything the body itself does is held to the same policy.
local util = require "sparkgen.util"
local paths = require "sparkgen.paths"
local sys = require "sparkgen.sys"
local lint_sql = require "sparkgen.lint.sql"
local lint_python = require "sparkgen.lint.python"

local M = {}

M.DEFAULT_POLICY = {
  allow_imports = {"datetime", "decimal", "math", "functools", "itertools",
                   "operator", "re", "typing", "collections", "calendar", "string",
                   "statistics", "dataclasses", "enum", "numbers", "fractions"},
  forbid_names = {"os", "sys", "subprocess", "socket", "requests", "urllib", "http",
                  "shutil", "pathlib", "glob", "tempfile", "io", "pickle", "marshal",
                  "ctypes", "importlib", "builtins", "__builtins__", "eval", "exec",
                  "compile", "open", "__import__", "getattr", "setattr", "delattr",
                  "globals", "locals", "vars", "breakpoint", "input", "exit", "quit",
                  "memoryview", "sc", "sqlContext", "SparkSession", "SparkContext"},
  allow_names = {},
  allow_sql_functions = {},
  forbid_sql_functions = {},
  forbid_calls = {"spark.stop", "spark.newSession", "spark.sparkContext.stop"},
  forbid_methods = {"pipe"},
  errors = {},
  warnings = {},
  ignore = {},
  python = false,
}

-- Default severity of every finding id.
local SEVERITY = {
  ["syntax-error"] = "error", ["no-result-df"] = "error",
  ["read-table-not-literal"] = "error", ["unknown-table"] = "error",
  ["forbidden-read"] = "error", ["unknown-column"] = "error",
  ["write-forbidden"] = "error", ["sql-not-select"] = "error",
  ["forbidden-call"] = "error", ["forbidden-import"] = "error",
  ["forbidden-sql-function"] = "error", ["sql-unreadable"] = "error",
  ["unknown-name"] = "error", ["star-import"] = "error", ["python-udf"] = "error",
  ["connect-incompatible"] = "error", ["forbidden-syntax"] = "error",
  ["wall-clock"] = "warning",
  ["collect-unaggregated"] = "warning", ["cross-join"] = "warning",
  ["join-without-key"] = "warning", ["python-missing"] = "warning",
  ["no-schema"] = "warning", ["model-claim"] = "warning",
}
M.SEVERITY = SEVERITY

local LIST_KEYS = {allow_imports = true, forbid_names = true, allow_names = true,
                   forbid_calls = true, forbid_methods = true,
                   forbid_sql_functions = true, allow_sql_functions = true, errors = true, warnings = true, ignore = true}

local set_of = util.set_of

--- The effective policy: defaults extended by `overrides` (cfg.lint).
--- Returns policy (lists plus *_set lookup tables) or nil, message for a bad key.
function M.policy(overrides)
  local p = util.deepcopy(M.DEFAULT_POLICY)
  for k, v in pairs(overrides or {}) do
    if p[k] == nil then
      return nil, ("unknown lint policy key '%s'%s"):format(tostring(k),
        util.suggest(tostring(k), util.sorted_keys(M.DEFAULT_POLICY)))
    end
    if LIST_KEYS[k] then
      if type(v) ~= "table" then
        return nil, ("lint policy key '%s' must be a list of strings"):format(k)
      end
      for _, item in ipairs(v) do
        if type(item) ~= "string" then
          return nil, ("lint policy key '%s' must be a list of strings"):format(k)
        end
        if (k == "errors" or k == "warnings" or k == "ignore") and not SEVERITY[item] then
          return nil, ("lint policy key '%s': unknown finding id '%s'%s"):format(k, item,
            util.suggest(item, util.sorted_keys(SEVERITY)))
        end
        table.insert(p[k], (k == "allow_sql_functions" or k == "forbid_sql_functions") and item:lower() or item)
      end
    elseif k == "python" then
      if v and type(v) ~= "string" then return nil, "lint policy key 'python' must be a path" end
      p.python = v
    end
  end
  for k in pairs(LIST_KEYS) do p[k .. "_set"] = set_of(p[k]) end
  for name in pairs(p.allow_names_set) do p.forbid_names_set[name] = nil end
  return p
end

-- A pyenv-style shim is a shell script that re-execs the real interpreter; it costs
-- tens of milliseconds per lint, so a real interpreter later on PATH is preferred.
local function is_shim(path)
  return path:find("/shims/[^/]*$") ~= nil
end

--- The python3 to run the analyser with: $SPARKGEN_PYTHON, else `lint_cfg.python`
--- (cfg.lint.python), else python3 on PATH. A bare name is searched on PATH.
--- Returns path or nil, message.
function M.python(lint_cfg)
  local want = os.getenv("SPARKGEN_PYTHON")
  if not want or want == "" then want = lint_cfg and lint_cfg.python or "python3" end
  if want:find("/") then
    if util.file_exists(want) then return want end
    return nil, ("%s does not exist"):format(want)
  end
  local shim
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local candidate = dir .. "/" .. want
    if util.file_exists(candidate) then
      if not is_shim(candidate) then return candidate end
      shim = shim or candidate
    end
  end
  if shim then return shim end
  return nil, want .. " is not on PATH"
end

-- Facts are a pure function of the code and the analyser, so they are cached by a hash
-- of both: a cached answer's code is judged again (schema, policy) without paying for a
-- Python process, which dominates a cache hit otherwise. The analyser's own hash and
-- the cache handle are computed and opened once per process.
local script_hashes, facts_stores = {}, {}
local function facts_key(script, code)
  local sha256 = require("sparkgen.digest").sha256
  local h = script_hashes[script]
  if not h then
    -- the analyser and the modules it loads from its directory make the facts
    local parts = {}
    for _, file in ipairs({script, (script:gsub("[^/]*$", "sqlread.py")),
                           (script:gsub("[^/]*$", "policyfacts.py"))}) do
      local source = util.read_file(file)
      if not source then return nil end
      parts[#parts + 1] = sha256(source)
    end
    h = sha256(table.concat(parts))
    script_hashes[script] = h
  end
  return sha256("sparkgen.facts/1\0" .. h .. "\0" .. code)
end

--- The analyser-facts cache in `dir` (a sparkgen.cache store), or nil; `cache stats`
--- opens it here too, so both see the same bounds.
function M.open_facts_cache(dir)
  if not dir then return nil end
  if facts_stores[dir] ~= nil then return facts_stores[dir] or nil end
  local ok, cache = pcall(require, "sparkgen.cache")
  local store = ok and cache.open{dir = dir, max_entries = 5000, max_bytes = 64 * 1024 * 1024, lru_entries = 64}
  facts_stores[dir] = store or false
  return store or nil
end

-- JSON null decodes to a sentinel; the checks read absent facts as nil
local function strip_nulls(facts)
  for k, v in pairs(facts) do
    if v == util.json_null then facts[k] = nil end
  end
  return facts
end

--- Facts about `code`, delivered to cb(facts) or cb(nil, message): from the facts cache
--- in `cache_dir` when there, else from the shared analyser service (sparkgen.analyzer),
--- whose answer is then cached. cb may run before analyze_async returns (a cache hit)
--- or later, from lint.poll / lint.wait.
function M.analyze_async(code, python, cache_dir, cb)
  local pool, perr = require("sparkgen.analyzer").shared(python)
  if not pool then return cb(nil, perr) end
  local store = M.open_facts_cache(cache_dir)
  local key = store and facts_key(pool.script, code)
  if key then
    local cached = store:get(key)
    local facts = cached and util.json_decode(cached)
    if type(facts) == "table" then return cb(strip_nulls(facts)) end
  end
  pool:submit(code, function(facts, err, raw)
    if not facts then return cb(nil, err) end
    if key then store:put(key, raw or util.json_encode(facts), 30 * 24 * 3600) end
    cb(strip_nulls(facts))
  end)
end

--- Run py/analyze.py on `code`: facts table or nil, message (synchronous). With
--- `cache_dir`, facts are read from and written to a content-addressed cache there.
function M.analyze(code, python, cache_dir)
  local facts, err, done
  M.analyze_async(code, python, cache_dir, function(f, e) facts, err, done = f, e, true end)
  while not done do M.poll(1) end
  return facts, err
end

--- Deliver the analyser answers that are ready (waiting up to timeout_s for one):
--- the callbacks of check_async and analyze_async run from here. Returns how many.
function M.poll(timeout_s)
  local n = 0
  for _, pool in ipairs(require("sparkgen.analyzer").pools()) do
    n = n + pool:poll(n == 0 and timeout_s or 0)
  end
  return n
end

--- Deliver every outstanding analyser answer.
function M.wait()
  for _, pool in ipairs(require("sparkgen.analyzer").pools()) do pool:wait() end
end

-- ---------------------------------------------------------------------------------
-- Schema access. Accepts a Schema object (S:table(name), S:tables()) or a plain
-- snapshot table ({tables = {...}}) so the checks work from a JSON file too.

local function display_name(t)
  if t.schema and t.schema ~= "public" then return t.schema .. "." .. t.name end
  return t.name
end

local function adapt_schema(S)
  if S == nil then return nil end
  if type(S.table) == "function" then
    return {
      table = function(name) return S:table(name) end,
      tables = function()
        local out = {}
        for _, t in ipairs(S:tables() or {}) do
          out[#out + 1] = type(t) == "string" and S:table(t) or t
        end
        return out
      end,
    }
  end
  local list = S.tables or {}
  return {
    table = function(name)
      local schema, bare = name:match("^([^.]+)%.(.+)$")
      local found
      for _, t in ipairs(list) do
        if schema and t.schema == schema and t.name == bare then return t end
        if not schema and t.name == name then
          if (t.schema or "public") == "public" then return t end
          if found then return nil, "ambiguous table " .. name end
          found = t
        end
      end
      if found then return found end
      return nil, "unknown table " .. name
    end,
    tables = function() return list end,
  }
end

-- Resolve a read_table literal, accepting quoted identifiers: "Order Items",
-- public."Order Items", `Order Items`.
local function resolve_table(schema, literal)
  local t, err = schema.table(literal)
  if t then return t end
  local unquoted = literal:gsub('"', ""):gsub("`", "")
  if unquoted ~= literal then
    local t2 = schema.table(unquoted)
    if t2 then return t2 end
  end
  return nil, err
end

-- ---------------------------------------------------------------------------------
-- Findings

local Collector = {}
Collector.__index = Collector

local function new_collector(policy)
  return setmetatable({policy = policy, list = {}, seen = {}}, Collector)
end

-- `subject` says what makes two findings with the same id on one line different
-- (default: the message); spark.read.jdbc on one line is one finding, not two.
function Collector:add(id, line, col, message, suggestions, subject)
  local p = self.policy
  if p.ignore_set[id] then return end
  local key = id .. "\0" .. tostring(line) .. "\0" .. (subject or message)
  if self.seen[key] then return end
  self.seen[key] = true
  local severity = assert(SEVERITY[id], id)
  if p.errors_set[id] then severity = "error" end
  if p.warnings_set[id] then severity = "warning" end
  line, col = line and math.tointeger(line) or line, col and math.tointeger(col) or col
  self.list[#self.list + 1] = {id = id, severity = severity, line = line, col = col,
                               message = message, suggestions = util.array(suggestions or {})}
end

function Collector:sorted()
  table.sort(self.list, function(a, b)
    local la, lb = a.line or math.huge, b.line or math.huge
    if la ~= lb then return la < lb end
    if (a.col or 0) ~= (b.col or 0) then return (a.col or 0) < (b.col or 0) end
    return a.id < b.id
  end)
  return util.array(self.list)
end

--- One line per finding in the compiler format editors jump to:
---   FILE:LINE:COL: error|warning: id: message (did you mean: a, b?)
--- COL is 1-based; a finding without a column has FILE:LINE:, one about the whole
--- file (python-missing, no-schema) only FILE:.
function M.format(f, file)
  local where = file or "<code>"
  local line, col = tonumber(f.line), tonumber(f.col)
  if line then
    where = col and ("%s:%d:%d"):format(where, line, col + 1) or ("%s:%d"):format(where, line)
  end
  local s = ("%s: %s: %s: %s"):format(where, f.severity or SEVERITY[f.id] or "error", f.id, f.message)
  if f.suggestions and #f.suggestions > 0 then
    s = s .. " (did you mean: " .. table.concat(f.suggestions, ", ") .. "?)"
  end
  return s
end

-- ---------------------------------------------------------------------------------
-- The checks

local function complexity_of(facts)
  local joins, aggs, wins = #facts.joins, #facts.aggregations, #facts.windows
  -- a join weighs most: it is where fan-out and key mistakes live
  local score = 2 * joins + aggs + wins
  if score <= 1 then return "low" end
  if score <= 5 then return "medium" end
  return "high"
end

local function lower_set(names)
  local exact, lower = {}, {}
  for _, n in ipairs(names) do exact[n] = true; lower[n:lower()] = true end
  return {exact = exact, lower = lower, list = names}
end

-- Spark resolves column names case-insensitively by default, so "Order_ID" finds
-- order_id; quoted identifiers with spaces or mixed case compare exactly first.
local function has(set, name)
  return set.exact[name] or set.lower[name:lower()] or false
end

local function column_names(t)
  local out = {}
  for _, c in ipairs(t.columns or {}) do out[#out + 1] = c.name end
  return out
end

local function check_columns(c, facts, schema, read)
  -- read: {literal -> table}, read.list: resolved tables in order
  if #read.list == 0 then return end
  local intro = {}
  for _, i in ipairs(facts.introduced) do intro[#intro + 1] = i.name end
  local introduced = lower_set(intro)
  local cols = {}
  local function cols_of(t)
    local key = display_name(t)
    if not cols[key] then cols[key] = lower_set(column_names(t)) end
    return cols[key]
  end
  local read_names = {}
  for _, t in ipairs(read.list) do read_names[display_name(t)] = t; read_names[t.name] = t end

  local function tables_from_literals(literals)
    local out = {}
    for _, lit in ipairs(literals or {}) do
      if read.by_literal[lit] then out[#out + 1] = read.by_literal[lit] end
    end
    return out
  end

  -- a frame over a table that is not in the schema was already reported as
  -- unknown-table; its columns would only repeat that finding
  local function unresolved(literals)
    for _, lit in ipairs(literals or {}) do
      if not read.by_literal[lit] then return true end
    end
    return false
  end

  for _, ref in ipairs(facts.columns) do
    local name = ref.name
    local alias_tables = ref.qualifier and facts.frame_aliases[ref.qualifier]
    if not ref.opaque and not has(introduced, name) and not unresolved(ref.tables)
        and not unresolved(alias_tables) then
      local candidates
      local q = ref.qualifier
      if q then
        if facts.frame_aliases[q] then
          candidates = tables_from_literals(facts.frame_aliases[q])
        elseif read_names[q] then
          candidates = {read_names[q]}
        else
          -- an unknown qualifier may be a struct column (address.city): judge the
          -- leading part then, not the field
          local lead = q:match("^[^.]+")
          for _, t in ipairs(read.list) do
            if has(cols_of(t), lead) then candidates = false break end
          end
          if candidates == false or has(introduced, lead) then goto continue end
        end
      end
      if not candidates or #candidates == 0 then
        candidates = tables_from_literals(ref.tables)
        if #candidates == 0 then candidates = read.list end
      end
      local found = false
      for _, t in ipairs(candidates) do
        if has(cols_of(t), name) then found = true break end
      end
      if not found then
        local pool = {}
        for _, t in ipairs(candidates) do
          for _, n in ipairs(cols_of(t).list) do pool[#pool + 1] = n end
        end
        for _, n in ipairs(intro) do pool[#pool + 1] = n end
        local where_names = {}
        for _, t in ipairs(candidates) do where_names[#where_names + 1] = display_name(t) end
        local shown = (q and (q .. ".") or "") .. name
        -- Is it in another table the code reads, or in one it never reads?
        local elsewhere_read, elsewhere_unread = {}, {}
        for _, t in ipairs(read.list) do
          if has(cols_of(t), name) then elsewhere_read[#elsewhere_read + 1] = display_name(t) end
        end
        if #elsewhere_read == 0 and schema then
          for _, t in ipairs(schema.tables()) do
            if not read_names[display_name(t)] and has(cols_of(t), name) then
              elsewhere_unread[#elsewhere_unread + 1] = display_name(t)
            end
          end
        end
        local msg
        if #elsewhere_read > 0 then
          msg = ("column '%s' is not in %s (the frame it is used on); it is in %s"):format(
            shown, table.concat(where_names, ", "), table.concat(elsewhere_read, ", "))
        elseif #elsewhere_unread > 0 then
          msg = ("column '%s' exists in %s, which the code does not read"):format(
            shown, table.concat(elsewhere_unread, ", "))
        else
          msg = ("unknown column '%s' (not in %s, nor introduced by the code)"):format(
            shown, table.concat(where_names, ", "))
        end
        c:add("unknown-column", ref.line, ref.col, msg, util.closest(name, pool),
          ("%s\0%s\0%s"):format(ref.col, q or "", name))
      end
    end
    ::continue::
  end
end

local function check_tables(c, facts, schema)
  local read = {list = {}, by_literal = {}}
  local used, seen = {}, {}
  local all_names
  for _, r in ipairs(facts.read_tables) do
    if not r.literal then
      c:add("read-table-not-literal", r.line, r.col,
        "read_table() must be called with a literal table name, so the tables used can be checked")
    elseif schema then
      local t, terr = resolve_table(schema, r.name)
      if t then
        read.by_literal[r.name] = t
        local dn = display_name(t)
        if not seen[dn] then
          seen[dn] = true
          read.list[#read.list + 1] = t
          used[#used + 1] = dn
        end
      else
        if not all_names then
          all_names = {}
          for _, tt in ipairs(schema.tables()) do all_names[#all_names + 1] = display_name(tt) end
        end
        -- an ambiguous name is not unknown: say which schemas have it
        local ambiguous = type(terr) == "string" and terr:find("ambiguous", 1, true)
        c:add("unknown-table", r.line, r.col,
          ambiguous and terr or ("unknown table '%s'"):format(r.name),
          ambiguous and {} or util.closest(r.name, all_names))
      end
    elseif not seen[r.name] then
      seen[r.name] = true
      used[#used + 1] = r.name
    end
  end
  return read, used
end

local function check_warnings(c, facts)
  for _, col in ipairs(facts.collects) do
    if not col.aggregated then
      c:add("collect-unaggregated", col.line, col.col,
        ("%s() on a frame that is not aggregated or limited pulls every row to the driver"):format(col.method))
    end
  end
  for _, j in ipairs(facts.joins) do
    if j.cross then
      c:add("cross-join", j.line, j.col, "cross join: every row pairs with every row")
    elseif not j.has_on then
      c:add("join-without-key", j.line, j.col,
        "join without a key (on=...) is a cross join; state the join columns and how=")
    end
  end
end

-- Without python3, only what plain text can tell: the read_table names.
local function check_without_python(code, schema, policy, why)
  local c = new_collector(policy)
  c:add("python-missing", nil, nil,
    ("python3 not found (%s): syntax, column and policy checks skipped; only read_table() table names were checked"):format(why))
  local facts = {read_tables = {}}
  local line = 1
  for text in (code .. "\n"):gmatch("([^\n]*)\n") do
    for q, name in text:gmatch("read_table%s*%(%s*([\"'])(.-)%1%s*%)") do
      local _ = q
      facts.read_tables[#facts.read_tables + 1] = {name = name, literal = true, line = line, col = 0}
    end
    line = line + 1
  end
  local _, used = check_tables(c, facts, schema)
  local findings = c:sorted()
  local ok = true
  for _, f in ipairs(findings) do if f.severity == "error" then ok = false end end
  return {ok = ok, findings = findings, tables_used = util.array(used), complexity = "low",
          partial = true, facts = facts}
end

-- The report for `code` from its facts (the judging half of check).
local function judge(code, facts, schema, policy, python)
  local c = new_collector(policy)
  local used = {}
  if facts.syntax_error then
    local e = facts.syntax_error
    c:add("syntax-error", e.line, e.col, ("syntax error: %s"):format(e.msg))
  else
    if not schema then
      c:add("no-schema", nil, nil, "no schema given: table and column checks skipped")
    end
    if not facts.result_df then
      local last = select(2, code:gsub("\n", "")) + 1
      c:add("no-result-df", last, 0,
        "the code never assigns result_df (the job returns it as the transformation's output)")
    end
    local read
    read, used = check_tables(c, facts, schema)
    lint_python.check(c, facts, policy)
    lint_sql.check(c, facts, policy)
    if schema then check_columns(c, facts, schema, read) end
    check_warnings(c, facts)
  end
  local findings = c:sorted()
  local ok = true
  for _, f in ipairs(findings) do if f.severity == "error" then ok = false end end
  return {ok = ok, findings = findings, tables_used = util.array(used),
          complexity = facts.syntax_error and "low" or complexity_of(facts),
          partial = false, facts = facts, python = python}
end

-- Code past this size is refused before it reaches the analyser: a PySpark body is a
-- few KiB, and a 4 MB one took the analyser 11 s and 1.7 GB.
M.MAX_CODE_BYTES = 256 * 1024

--- Lint `code` without waiting for the analyser: cb(report) or cb(nil, message), called
--- at once when no analyser is needed (cached facts, no python3, a bad policy) and
--- otherwise from lint.poll / lint.wait, so a batch keeps its model requests in flight
--- while answers are analysed. opts as for check.
local resolved = setmetatable({}, {__mode = "k"})
local NO_POLICY = {}
-- The policy and interpreter for a policy table (cfg.lint), worked out once per table
-- and environment: a batch lints thousands of answers under one policy.
local function resolve_policy(overrides)
  local key = overrides or NO_POLICY
  local env = tostring(os.getenv("SPARKGEN_PYTHON")) .. "\0" .. tostring(os.getenv("PATH"))
  local r = resolved[key]
  if not r or r.env ~= env then
    local policy, perr = M.policy(overrides)
    r = {env = env, policy = policy, err = perr}
    if policy then r.python, r.why = M.python(policy) end
    resolved[key] = r
  end
  return r
end

function M.check_async(code, opts, cb)
  assert(type(code) == "string", "lint.check: code must be a string")
  if #code > M.MAX_CODE_BYTES then
    return cb(nil, ("the code is %d bytes, more than the %d KiB sparkgen reviews"):format(#code, M.MAX_CODE_BYTES // 1024))
  end
  opts = opts or {}
  local r = resolve_policy(opts.policy)
  local policy = r.policy
  if not policy then return cb(nil, r.err) end
  local schema = adapt_schema(opts.schema)
  local python, why = opts.python, nil
  if not python then python, why = r.python, r.why end
  if not python then return cb(check_without_python(code, schema, policy, why)) end
  M.analyze_async(code, python, opts.cache_dir, function(facts, err)
    if not facts then return cb(nil, err) end
    cb(judge(code, facts, schema, policy, python))
  end)
end

--- Lint `code`. opts = {schema = S|snapshot|nil, policy = cfg.lint, python = path?,
--- cache_dir = directory for cached analyser facts?}.
function M.check(code, opts)
  local report, err, done
  M.check_async(code, opts, function(r, e) report, err, done = r, e, true end)
  while not done do M.poll(1) end
  return report, err
end

local function norm_table(name)
  name = tostring(name):lower():gsub('"', "")
  return (name:gsub("^public%.", ""))
end

--- Warnings when the model's claims disagree with what the code was found to do.
--- claimed = {tables_used = {...}, estimated_complexity = "low"|"medium"|"high"}.
function M.model_claims(report, claimed)
  local out = {}
  claimed = claimed or {}
  local function warn(msg)
    out[#out + 1] = {id = "model-claim", severity = "warning", message = msg,
                     suggestions = util.array({})}
  end
  if type(claimed.tables_used) == "table" then
    local actual, said = {}, {}
    for _, t in ipairs(report.tables_used or {}) do actual[norm_table(t)] = t end
    for _, t in ipairs(claimed.tables_used) do said[norm_table(t)] = t end
    local missing, extra = {}, {}
    for k, t in pairs(actual) do if not said[k] then missing[#missing + 1] = t end end
    for k, t in pairs(said) do if not actual[k] then extra[#extra + 1] = tostring(t) end end
    table.sort(missing) table.sort(extra)
    if #missing > 0 then
      warn(("the model did not list tables the code reads: %s"):format(table.concat(missing, ", ")))
    end
    if #extra > 0 then
      warn(("the model listed tables the code does not read: %s"):format(table.concat(extra, ", ")))
    end
  end
  local cx = claimed.estimated_complexity
  if cx ~= nil and cx ~= report.complexity then
    warn(("the model estimated complexity '%s'; the code's joins, aggregations and windows make it '%s'"):format(
      tostring(cx), tostring(report.complexity)))
  end
  return out
end

return M

-- commands/schema.lua — `sparkgen schema`: what sparkgen knows about the database.
--   sparkgen schema                      every table: kind, row estimate, columns, keys
--   sparkgen schema TABLE                one table with its relationships both ways
--   sparkgen schema dump FILE            write the JSON snapshot --schema reads (- = stdout)
--   sparkgen schema diff A [B]           what changed between two snapshots (B defaults
--                                        to the configured schema: --db reads the live
--                                        catalog, never the cache); exit 1 on differences
--   sparkgen schema --for "text" --table T   the tables a model would be shown
-- --json prints the same facts as JSON.
local util = require "sparkgen.util"
-- Loaded on first use: every sparkgen command builds its parser from this module.
local schema = setmetatable({}, {__index = function(t, k)
  local real = require "sparkgen.schema"
  setmetatable(t, {__index = real})
  return real[k]
end})

local M = {}

M.summary = "Show the database schema sparkgen sees (tables, one table, dump, diff)."

function M.setup(cmd, cli)
  cmd:argument("args", "TABLE | dump FILE | diff A [B]"):args("*")
  cli.add_source_options(cmd)
  cli.add_output_options(cmd)
  cmd:option("--for", "Show the tables chosen for a request text (with --table)."):argname("<text>")
     :target("for_text")
  cmd:option("--table", "The request's source table (with --for)."):argname("<table>")
  cmd:option("--budget", "Most tables --for selects (default: prompt_table_budget)."):convert(tonumber)
  cmd:flag("--print-catalog-query", "Print the catalog query sparkgen runs and exit (for benchmarks).")
end

local function rows_text(t)
  if t.rows == nil then return "rows unknown" end
  local s = tostring(math.tointeger(t.rows) or t.rows):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return "~" .. s .. " rows"
end

local function column_lines(t, out, indent)
  local pk = {}
  for i, name in ipairs(t.primary_key or {}) do pk[name] = i end
  local width = 0
  for _, c in ipairs(t.columns) do width = math.max(width, #schema.quote_ident(c.name)) end
  for _, c in ipairs(t.columns) do
    local parts = {("%-" .. width .. "s  %s"):format(schema.quote_ident(c.name), c.type or "?")}
    if not c.nullable then parts[#parts + 1] = "not null" end
    if pk[c.name] then parts[#parts + 1] = #t.primary_key > 1 and ("PK(" .. pk[c.name] .. ")") or "PK" end
    if c.generated then parts[#parts + 1] = "generated as " .. tostring(c.default or "?")
    elseif c.default then parts[#parts + 1] = "default " .. c.default end
    if c.comment then parts[#parts + 1] = "-- " .. c.comment:gsub("\n", " ") end
    out:write(indent, table.concat(parts, "  "), "\n")
  end
end

local function header(t)
  local s = ("%s  (%s, %s)"):format(schema.qualified(t), t.kind:gsub("_", " "), rows_text(t))
  if t.comment then s = s .. "  -- " .. t.comment:gsub("\n", " ") end
  return s
end

local function fk_text(fk, dir)
  local cols = {}
  for i, c in ipairs(fk.columns) do cols[i] = schema.quote_ident(c) end
  local refs = {}
  for i, c in ipairs(fk.ref_columns) do refs[i] = schema.quote_ident(c) end
  local from = schema.qualified({schema = fk.schema, name = fk.table})
  local to = schema.qualified({schema = fk.ref_schema, name = fk.ref_table})
  if dir == "out" then
    return ("(%s) -> %s(%s)  [%s]"):format(table.concat(cols, ", "), to, table.concat(refs, ", "), fk.name)
  end
  return ("%s(%s) -> (%s)  [%s]"):format(from, table.concat(cols, ", "), table.concat(refs, ", "), fk.name)
end

local function public_view(S, t, with_relations)
  local v = {schema = t.schema, name = t.name, qualified = schema.qualified(t),
             read_table = schema.read_table_name(t), kind = t.kind,
             comment = t.comment or util.json_null, rows = t.rows or util.json_null,
             columns = util.array(util.copy(t.columns)), primary_key = util.array(util.copy(t.primary_key))}
  for i, c in ipairs(v.columns) do
    c = util.copy(c)
    c.default = c.default or util.json_null
    c.comment = c.comment or util.json_null
    c.generated = c.generated or false
    v.columns[i] = c
  end
  if with_relations then
    local rel, err = S:foreign_keys(t)
    if not rel then return nil, err end
    v.foreign_keys = rel
    v.stats = S:stats(t) or util.json_null
  end
  return v
end

local function open(ctx)
  local S, err = schema.open(ctx.config)
  if not S then return nil, err end
  if S.stale then io.stderr:write("sparkgen: warning: the database is unreachable; using a stale cached schema snapshot\n") end
  return S
end

local function show_all(S, args, out)
  local tables = S:tables()
  if args.json then
    S:write_json(out)
    out:write("\n")
    return 0
  end
  for _, t in ipairs(tables) do
    out:write(header(t), "\n")
    column_lines(t, out, "    ")
  end
  local age = S:describe_age()
  out:write(("%d table%s (%s%s)\n"):format(#tables, #tables == 1 and "" or "s", S:describe_source(),
    age and ("; " .. age) or ""))
  return 0
end

local function show_one(S, name, args, out)
  local t, err = S:table(name)
  if not t then return nil, err end
  local v, verr = public_view(S, t, true)
  if not v then return nil, verr end
  if args.json then
    out:write(util.json_encode(v, 2), "\n")
    return 0
  end
  out:write(header(t), "\n")
  out:write("  read_table(", util.json_encode(schema.read_table_name(t)), ")\n")
  out:write("  columns:\n")
  column_lines(t, out, "    ")
  local rel = v.foreign_keys
  if #rel.outgoing > 0 then
    out:write("  references:\n")
    for _, fk in ipairs(rel.outgoing) do out:write("    ", fk_text(fk, "out"), "\n") end
  end
  if #rel.incoming > 0 then
    out:write("  referenced by:\n")
    for _, fk in ipairs(rel.incoming) do out:write("    ", fk_text(fk, "in"), "\n") end
  end
  local st = v.stats
  if type(st) == "table" and st.partition_column then
    out:write(("  partitioned reads: %s between %s and %s\n"):format(
      schema.quote_ident(st.partition_column), tostring(st.lower), tostring(st.upper)))
  end
  local age = S:describe_age()
  if age then out:write("  snapshot: ", age, "\n") end
  return 0
end

local function dump(S, file, out)
  local ok, err = S:attach_foreign_keys()
  if not ok then return nil, err end
  local text = S:to_json() .. "\n"
  if file == "-" then
    out:write(text)
    return 0
  end
  local wok, werr = util.write_file(file, text)
  if not wok then return nil, ("cannot write %s: %s"):format(file, tostring(werr)) end
  io.stderr:write(("sparkgen: wrote %d tables to %s\n"):format(#S:tables(), file))
  return 0
end

-- Exit status of diff, like diff(1): 0 the same, 1 differences.
local function diff(a_file, b_file, ctx, args, out)
  local A, err = schema.from_file(a_file)
  if not A then return nil, err end
  local B
  if b_file then
    B, err = schema.from_file(b_file)
  else
    -- Comparing with the database means the database now, not a cached snapshot.
    local cfg = util.copy(ctx.config)
    cfg.refresh = true
    B, err = schema.open(cfg)
    if B and B.mode == "live" then
      -- A dumped snapshot carries foreign keys; compare them with the live ones.
      local a_fks = false
      for _, t in ipairs(A:tables()) do if t.foreign_keys then a_fks = true break end end
      if a_fks then
        local ok, ferr = B:attach_foreign_keys()
        if not ok then B:close() return nil, ferr end
      end
      B:close()
    end
  end
  if not B then return nil, err end
  local d = schema.diff(A, B)
  local status = #d.added + #d.removed + #d.changed == 0 and 0 or 1
  if args.json then
    out:write(util.json_encode(d, 2), "\n")
    return status
  end
  for _, k in ipairs(d.added) do out:write("+ ", k, "\n") end
  for _, k in ipairs(d.removed) do out:write("- ", k, "\n") end
  for _, ch in ipairs(d.changed) do
    out:write("~ ", ch.table, "\n")
    if ch.kind then out:write(("    kind: %s -> %s\n"):format(ch.kind.from, ch.kind.to)) end
    for _, c in ipairs(ch.added_columns) do out:write("    + column ", schema.quote_ident(c), "\n") end
    for _, c in ipairs(ch.removed_columns) do out:write("    - column ", schema.quote_ident(c), "\n") end
    for _, c in ipairs(ch.changed_columns) do
      local bits = {}
      for _, f in ipairs({"type", "nullable", "default", "generated"}) do
        if c.from[f] ~= nil or c.to[f] ~= nil then
          bits[#bits + 1] = ("%s %s -> %s"):format(f, tostring(c.from[f]), tostring(c.to[f]))
        end
      end
      out:write("    ~ column ", schema.quote_ident(c.name), ": ", table.concat(bits, ", "), "\n")
    end
    if ch.primary_key then
      out:write(("    primary key: (%s) -> (%s)\n"):format(table.concat(ch.primary_key.from, ", "),
        table.concat(ch.primary_key.to, ", ")))
    end
    if ch.foreign_keys then
      for _, s in ipairs(ch.foreign_keys.added) do out:write("    + foreign key ", s, "\n") end
      for _, s in ipairs(ch.foreign_keys.removed) do out:write("    - foreign key ", s, "\n") end
    end
  end
  if status == 0 then out:write("no differences\n") end
  return status
end

local function for_request(S, args, ctx, out)
  if not args.table then return nil, "--for needs --table SOURCE (the request's source table)", 2 end
  local source, err = S:table(args.table)
  if not source then return nil, err end
  local budget = math.tointeger(args.budget) or ctx.config.prompt_table_budget or 40
  local chosen = S:select{source = source, text = args.for_text, budget = budget}
  if args.json then
    local list = util.array({})
    for i, t in ipairs(chosen) do list[i] = public_view(S, t, false) end
    out:write(util.json_encode({source = schema.qualified(source), text = args.for_text,
                                budget = budget, tables = list}, 2), "\n")
    return 0
  end
  for i, t in ipairs(chosen) do
    out:write(("%2d. %s  (%s, %d columns)\n"):format(i, schema.qualified(t), t.kind:gsub("_", " "), #t.columns))
  end
  return 0
end

function M.run(args, ctx)
  local out = ctx.stdout or io.stdout
  if args.print_catalog_query then
    out:write(require("sparkgen.pg").CATALOG_SQL, "\n")
    return 0
  end
  local rest = args.args or {}
  if rest[1] == "diff" then
    if not rest[2] or #rest > 3 then return nil, "usage: sparkgen schema diff A.json [B.json]", 2 end
    return diff(rest[2], rest[3], ctx, args, out)
  end
  if rest[1] == "dump" and #rest ~= 2 then
    return nil, "usage: sparkgen schema dump FILE (- for stdout)", 2
  end
  if #rest > 1 and rest[1] ~= "dump" then
    return nil, ("unexpected arguments after %s (quote a table name with spaces)"):format(rest[1]), 2
  end
  local S, err = open(ctx)
  if not S then return nil, err end
  local status, msg, code
  if args.for_text then
    status, msg, code = for_request(S, args, ctx, out)
  elseif rest[1] == "dump" then
    status, msg, code = dump(S, rest[2], out)
  elseif rest[1] then
    status, msg, code = show_one(S, rest[1], args, out)
  else
    status, msg, code = show_all(S, args, out)
  end
  S:close()
  return status, msg, code
end

return M

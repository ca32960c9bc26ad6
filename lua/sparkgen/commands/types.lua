-- commands/types.lua — `sparkgen types` lists transformation types; `sparkgen types
-- show NAME` shows one in full (parameters, checks, tables, template, guidance);
-- `sparkgen types new NAME [--from EXISTING] [--source TABLE] [--dir ROOT]` writes a
-- type, its template and an eval case into a user root.
local types = require "sparkgen.types"
local util = require "sparkgen.util"

local M = {}

M.summary = "List transformation types, show one, or write a new one (types new NAME)."

function M.setup(cmd, cli)
  cmd:argument("action", "'show' to show one type, 'new' to write one."):args("?"):choices({"show", "new"})
  cmd:argument("name", "The type to show or write."):args("?")
  cmd:option("--from", "types new: copy this existing type (its checks, guidance and template)."):argname("<type>")
  cmd:option("--source", "types new: the table the eval case starts from."):argname("<table>")
  cmd:option("--dir", "types new: the user root to write into (default: the first configured one)."):argname("<dir>")
  cli.add_output_options(cmd)
end

local function public_view(def)
  local params = {}
  for _, k in ipairs(util.sorted_keys(def.params or {})) do
    local p = util.copy(def.params[k])
    p.name = k
    params[#params + 1] = p
  end
  return {name = def.name, summary = def.summary, tables = util.array(def.tables or {}),
          params = util.array(params), complexity = def.complexity,
          checks = util.array(def.checks or {}), template = def.template or util.json_null,
          guidance = def.guidance or util.json_null, origin = def.origin, path = def.path,
          shadows = util.array(def.shadows or {})}
end

local function origin_label(def)
  if def.origin == "built-in" then return "built-in" end
  local s = def.origin
  if def.shadows and #def.shadows > 0 then s = s .. ", shadows " .. table.concat(def.shadows, ", ") end
  return s
end

local function show(def, out)
  out:write(("%s — %s\n"):format(def.name, def.summary))
  out:write(("  origin:     %s (%s)\n"):format(origin_label(def), def.path))
  out:write(("  complexity: %s\n"):format(def.complexity))
  out:write(("  tables:     %s\n"):format(table.concat(def.tables or {}, ", ")))
  out:write(("  template:   %s\n"):format(def.template or "(none: needs a model)"))
  out:write("  parameters:\n")
  for _, k in ipairs(util.sorted_keys(def.params or {})) do
    local spec = def.params[k]
    out:write(("    %s%s\n"):format(types.describe_param(k, spec), spec.doc and (" — " .. spec.doc) or ""))
  end
  out:write("  checks:\n")
  local ok, checks = pcall(require, "sparkgen.checks")
  -- Resolved against the default context, so "$(limit)"-style checks read as sentences.
  local resolved = ok and checks.resolve(def.checks or {}, types.resolve_context(def, {}) or nil)
  for i, c in ipairs(def.checks or {}) do
    local text = resolved and resolved[i] and resolved[i].description or c.rule
    out:write(("    - %s\n"):format(text))
  end
  if def.guidance then
    out:write("  guidance:\n")
    for line in (util.trim(def.guidance) .. "\n"):gmatch("([^\n]*)\n") do out:write("    ", line, "\n") end
  end
end

local function new_type(args, ctx, reg)
  local scaffold = require "sparkgen.scaffold"
  if not args.name then return nil, "usage: sparkgen types new NAME [--from EXISTING] [--source TABLE] [--dir ROOT]", 2 end
  local ok, nerr = scaffold.check_name("type", args.name)
  if not ok then return nil, nerr, 2 end
  local from
  if args.from then
    local gerr
    from, gerr = types.get(args.from)
    if not from then return nil, gerr end
  end
  local root, rerr = require("sparkgen.paths").user_root(args.dir)
  if not root then return nil, rerr end
  local files, ferr = scaffold.type_files(root, args.name, {from = from, source = args.source})
  if not files then return nil, ferr end
  local written, werr = scaffold.write(files)
  if not written then return nil, werr end
  for _, path in ipairs(written) do ctx.stdout:write("wrote ", path, "\n") end
  local shadowed = reg.by_name[args.name]
  if shadowed then
    io.stderr:write(("sparkgen: note: it shadows the %s type '%s'\n"):format(shadowed.origin, args.name))
  end
  return 0
end

function M.run(args, ctx)
  local out = ctx.stdout
  local reg, err = types.load_all{strict = ctx.config.strict}
  if not reg then return nil, err end
  if args.action == "new" then return new_type(args, ctx, reg) end
  for _, opt in ipairs({"from", "source", "dir"}) do
    if args[opt] then return nil, ("--%s applies to 'sparkgen types new'"):format(opt), 2 end
  end
  if args.action == "show" then
    if not args.name then return nil, "usage: sparkgen types show NAME", 2 end
    local def, gerr = types.get(args.name)
    if not def then return nil, gerr end
    if args.json then out:write(util.json_encode(public_view(def), 2), "\n") else show(def, out) end
    return 0
  end
  if args.json then
    local list = {}
    for _, def in ipairs(reg.list) do list[#list + 1] = public_view(def) end
    out:write(util.json_encode(util.array(list), 2), "\n")
    return 0
  end
  local width = 4
  for _, def in ipairs(reg.list) do width = math.max(width, #def.name) end
  for _, def in ipairs(reg.list) do
    out:write(("%-" .. width .. "s  %s%s\n"):format(def.name, def.summary, def.template and "" or " [model only]"))
    local params = {}
    for _, k in ipairs(util.sorted_keys(def.params or {})) do params[#params + 1] = types.describe_param(k, def.params[k]) end
    if #params > 0 then out:write((" "):rep(width + 2), "params: ", table.concat(params, "; "), "\n") end
    out:write((" "):rep(width + 2), "origin: ", origin_label(def), "\n")
  end
  -- broken plugins were already reported by the loader's warning (one line each)
  return 0
end

return M

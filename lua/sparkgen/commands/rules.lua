-- commands/rules.lua — `sparkgen rules` lists the validation rules; `sparkgen rules new
-- NAME [--dir ROOT]` writes a rule file into a user root.
local util = require "sparkgen.util"

local M = {}

M.summary = "List validation rules, or write a new one (rules new NAME)."

function M.setup(cmd, cli)
  cmd:argument("action", "'new' to write a rule."):args("?"):choices({"new"})
  cmd:argument("name", "The rule to write."):args("?")
  cmd:option("--dir", "The user root to write into (default: the first configured one)."):argname("<dir>")
  cli.add_output_options(cmd)
end

function M.run(args, ctx)
  local checks = require "sparkgen.checks"
  if args.action == "new" then
    local scaffold = require "sparkgen.scaffold"
    if not args.name then return nil, "usage: sparkgen rules new NAME [--dir ROOT]", 2 end
    local ok, nerr = scaffold.check_name("rule", args.name)
    if not ok then return nil, nerr, 2 end
    local root, rerr = require("sparkgen.paths").user_root(args.dir)
    if not root then return nil, rerr end
    local existing = checks.get and checks.get(args.name)
    local written, err = scaffold.write(scaffold.rule_files(root, args.name))
    if not written then return nil, err end
    for _, path in ipairs(written) do ctx.stdout:write("wrote ", path, "\n") end
    if existing then io.stderr:write(("sparkgen: note: it shadows the %s rule '%s'\n"):format(
      existing.origin or "built-in", args.name)) end
    return 0
  end
  if args.name then return nil, "usage: sparkgen rules [new NAME]", 2 end
  local list = checks.list()
  if args.json then
    local out = util.array({})
    for i, r in ipairs(list) do out[i] = {name = r.name, summary = r.summary or util.json_null} end
    ctx.stdout:write(util.json_encode(out, 2), "\n")
    return 0
  end
  local width = 4
  for _, r in ipairs(list) do width = math.max(width, #r.name) end
  for _, r in ipairs(list) do ctx.stdout:write(("%-" .. width .. "s  %s\n"):format(r.name, r.summary or "")) end
  return 0
end

return M

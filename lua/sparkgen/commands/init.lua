-- commands/init.lua — `sparkgen init [DIR]`: start a project: a commented sparkgen.lua
-- and a user root (types/ rules/ prompts/ templates/ eval/) with one example type that
-- works on any table. Existing files are never overwritten.
local M = {}

M.summary = "Start a project: a commented sparkgen.lua and a user root with one example type."

function M.setup(cmd)
  cmd:argument("dir", "The project directory (default: the current one)."):args("?")
end

function M.run(args, ctx)
  local scaffold = require "sparkgen.scaffold"
  local dir = args.dir or "."
  local written, err = scaffold.write(scaffold.project_files(dir))
  if not written then return nil, err end
  local out = ctx.stdout
  for _, path in ipairs(written) do out:write("wrote ", path, "\n") end
  out:write(("next: cd %s && sparkgen types show row_count, then sparkgen types new NAME " ..
    "(or --from an existing type) and fill its template\n"):format(dir))
  return 0
end

return M

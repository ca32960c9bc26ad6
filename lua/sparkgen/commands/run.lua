-- commands/run.lua — `sparkgen run RECIPE.lua [args]`: run a team's recipe script.
-- The recipe sees `arg` like a plain Lua script and `require "sparkgen"` gives it the
-- public API configured exactly like the command line (flags, config files, env).
local M = {}

M.summary = "Run a recipe script that uses require \"sparkgen\"."

local command -- kept for --help: the recipe's options are not parsed, so ours are not either

function M.setup(cmd)
  command = cmd
  cmd:argument("recipe", "The Lua recipe file.")
  cmd:argument("args", "Arguments passed to the recipe as arg[1..n]."):args("*")
  -- Everything after `run` belongs to the recipe (options included), so a recipe gets
  -- its configuration from sparkgen.lua / the environment or sg.configure{...}.
  cmd:handle_options(false)
end

function M.run(args, ctx)
  if args.recipe == "-h" or args.recipe == "--help" then
    ctx.stdout:write(command:get_help(), "\n")
    return 0
  end
  local sparkgen = require "sparkgen"
  sparkgen.configure(ctx.config)
  local script = args.recipe
  local chunk, err = loadfile(script)
  if not chunk then return nil, err end
  local argt = {[0] = script}
  for i, a in ipairs(args.args) do argt[i] = a end
  local saved = _G.arg
  _G.arg = argt
  local ok, status = xpcall(chunk, function(e)
    -- Errors raised on purpose by the recipe (error("...", 0) or sparkgen.fail) stay one
    -- line; anything else gets a traceback so the recipe author can find it.
    if type(e) == "table" and e.sparkgen_error then return e end
    return debug.traceback(tostring(e), 2)
  end, table.unpack(argt))
  _G.arg = saved
  if not ok then
    if type(status) == "table" then return nil, status.message end
    return nil, ("recipe %s failed: %s"):format(script, tostring(status))
  end
  if math.type(status) == "integer" then return status end
  if status == false then return 1 end
  return 0
end

return M

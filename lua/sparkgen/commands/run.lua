-- commands/run.lua — `sparkgen run [--trusted] RECIPE.lua [args]`: run a team's recipe.
-- A recipe runs in the sandbox (sandbox.lua): the safe library, `print`, `arg` and
-- `require "sparkgen"` (the documented API of init.lua), nothing else, under the
-- instruction and memory budgets of the config's `sandbox` section. Its error is one
-- line `file:line: message`; sg.usage("...") is a usage error (exit status 2). The
-- recipe's return value is the exit status (an integer, or false for 1).
--
-- `--trusted` runs the script with the full Lua environment instead (io, os, require
-- of any module, debug) and no budgets: for sparkgen's own tools — the test runner
-- (tests/busted.lua), bench drivers, examples/eval/record.lua — and for scripts a team
-- has reviewed like code. An unexpected error there gets a traceback.
local util = require "sparkgen.util"

local M = {}

M.summary = "Run a recipe script that uses require \"sparkgen\"."

local command -- kept for --help: the recipe's options are not parsed, so ours are not either

function M.setup(cmd)
  command = cmd
  cmd:usage("Usage: sparkgen run [-h] [--trusted] <recipe> [<args>] ...")
  cmd:argument("recipe", "The Lua recipe file.")
  cmd:argument("args", "Arguments passed to the recipe as arg[1..n]."):args("*")
  -- Everything after `run` belongs to the recipe (options included), so a recipe gets
  -- its configuration from sparkgen.lua / the environment or sg.configure{...}.
  cmd:handle_options(false)
  cmd:epilog("--trusted runs the script with the full Lua environment and no budgets " ..
             "(sparkgen's own test and bench scripts, reviewed code); without it the " ..
             "recipe runs in the sandbox (README: Recipes).")
end

local function exit_status(status)
  if math.type(status) == "integer" then return status end
  if status == false then return 1 end
  return 0
end

local function run_trusted(script, argt)
  -- Read like every other file (a regular file, bounded), then compile as text only.
  local text, rerr = util.read_file(script)
  if not text then return nil, rerr end
  local chunk, err = load(text, "@" .. script, "t")
  if not chunk then return nil, err end
  local sparkgen = require "sparkgen"
  local saved = _G.arg
  _G.arg = argt
  local ok, status = xpcall(chunk, function(e)
    -- Errors raised on purpose (error("...", 0), sg.usage, sg.fail) stay one line;
    -- anything else gets a traceback so the script's author can find it.
    if sparkgen.take_stop then
      local stop = sparkgen.take_stop()
      if stop then return stop end
    end
    return debug.traceback(tostring(e), 2)
  end, table.unpack(argt))
  _G.arg = saved
  if not ok then
    if type(status) == "table" then return nil, status.message, status.status end
    return nil, ("recipe %s failed: %s"):format(script, tostring(status))
  end
  return exit_status(status)
end

local function run_sandboxed(script, argt)
  local sandbox = require "sparkgen.sandbox"
  local sparkgen = require "sparkgen"
  local api = sparkgen.recipe_api()
  local function recipe_require(name)
    if name == "sparkgen" then return api end
    error(("a recipe can require only \"sparkgen\", not '%s' (run reviewed scripts with " ..
           "'sparkgen run --trusted')"):format(tostring(name)), 2)
  end
  local env = sandbox.env{vars = {print = print, require = recipe_require, arg = argt}}
  local text, rerr = util.read_file(script)
  if not text then return nil, rerr end
  local chunk, err = sandbox.load(text, "@" .. script, env)
  if not chunk then return nil, err end
  local ok, status = sandbox.pcall(chunk, table.unpack(argt))
  local stop = sparkgen.take_stop()
  if not ok then
    if stop then return nil, stop.message, stop.status end
    return nil, status
  end
  return exit_status(status)
end

function M.run(args, ctx)
  local recipe, rest = args.recipe, args.args
  if recipe == "-h" or recipe == "--help" then
    ctx.stdout:write(command:get_help(), "\n")
    return 0
  end
  local trusted = false
  if recipe == "--trusted" then
    trusted = true
    recipe = rest[1]
    rest = table.move(rest, 2, #rest, 1, {})
    if not recipe then return nil, "run --trusted: a recipe file is required (see 'sparkgen run --help')", 2 end
  elseif recipe:match("^%-") then
    return nil, ("run: unknown option '%s' (options: --trusted, --help)"):format(recipe), 2
  end
  require("sparkgen").configure(ctx.config)
  local argt = {[0] = recipe}
  for i, a in ipairs(rest) do argt[i] = a end
  if trusted then return run_trusted(recipe, argt) end
  return run_sandboxed(recipe, argt)
end

return M

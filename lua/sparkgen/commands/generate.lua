-- commands/generate.lua — `sparkgen generate SOURCE TYPE|"free text" [--context k=v]
-- [--json] [--job FILE]`: print the generated code (or the whole result, or write a
-- runnable job). Code that failed the checks is never printed as if it were good: the
-- findings go to stderr and the exit status is 1 (`--keep-invalid` shows the code too).
local util = require "sparkgen.util"

local M = {}

M.summary = "Generate PySpark code for a request."

function M.setup(cmd, cli)
  cli.add_request_arguments(cmd)
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cli.add_history_option(cmd)
  cli.add_output_options(cmd)
  cmd:option("--job", "Write a complete spark-submit-ready job to FILE."):argname("<file>")
  cmd:flag("--keep-invalid", "Print code even when it failed the checks (exit status stays 1).")
end

function M.run(args, ctx)
  local generator = require "sparkgen.generator"
  local request = require "sparkgen.request"
  local req, rerr = request.from_args(args)
  if not req then return nil, rerr, 2 end
  local result, err = generator.generate(req, ctx.config)
  if not result then return nil, err end
  local out = ctx.stdout
  if not result.ok then
    request.print_findings(result)
    if args.json then out:write(util.json_encode(result, 2), "\n")
    elseif ctx.config.keep_invalid then out:write(result.code) end
    return 1
  end
  request.print_warnings(result)
  if args.job then
    local ok, jerr = require("sparkgen.job").write(result, args.job, ctx.config)
    if not ok then return nil, jerr end
    io.stderr:write(("sparkgen: wrote %s\n"):format(args.job))
  end
  if args.json then
    out:write(util.json_encode(result, 2), "\n")
  elseif not args.job then
    out:write(result.code)
    if result.code:sub(-1) ~= "\n" then out:write("\n") end
  end
  return 0
end

return M

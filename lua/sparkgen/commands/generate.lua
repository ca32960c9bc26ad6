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
  cli.add_output_options(cmd)
  cmd:option("--job", "Write a complete spark-submit-ready job to FILE."):argname("<file>")
  cmd:flag("--keep-invalid", "Print code even when it failed the checks (exit status stays 1).")
end

--- Print findings as FILE-less lint lines on stderr.
function M.print_findings(result, err)
  err = err or io.stderr
  err:write(("sparkgen: the generated code failed %d check%s after %d attempt%s:\n"):format(
    #result.findings, #result.findings == 1 and "" or "s", result.attempts, result.attempts == 1 and "" or "s"))
  for _, f in ipairs(result.findings) do
    local sugg = f.suggestions and #f.suggestions > 0 and (" (did you mean: " .. table.concat(f.suggestions, ", ") .. "?)") or ""
    err:write(("  line %s: %s: %s%s\n"):format(tostring(f.line or "?"), f.id, f.message, sugg))
  end
end

function M.print_warnings(result, err)
  for _, w in ipairs(result.warnings or {}) do (err or io.stderr):write("sparkgen: warning: ", w, "\n") end
end

--- Shared by generate and exec: build the request from parsed arguments.
function M.request_from_args(args, cli)
  local context, err = cli.parse_context(args.context)
  if not context then return nil, err end
  return {source = args.source, type = args.type, context = context}
end

function M.write_job(result, path, cfg)
  local job = require "sparkgen.job"
  local generator = require "sparkgen.generator"
  local types = require "sparkgen.types"
  local S = generator.schema(cfg)
  local typedef = result.request.type and types.get(result.request.type) or nil
  local text, err = job.render(result, {cfg = cfg, schema = S, typedef = typedef})
  if not text then return nil, err end
  local ok, werr = util.write_file(path, text)
  if not ok then return nil, ("cannot write job %s: %s"):format(path, werr) end
  return true
end

function M.run(args, ctx)
  local cli = require "sparkgen.cli"
  local generator = require "sparkgen.generator"
  local req, rerr = M.request_from_args(args, cli)
  if not req then return nil, rerr, 2 end
  local result, err = generator.generate(req, ctx.config)
  if not result then return nil, err end
  local out = ctx.stdout
  if not result.ok then
    M.print_findings(result)
    if args.json then out:write(util.json_encode(result, 2), "\n")
    elseif ctx.config.keep_invalid then out:write(result.code) end
    return 1
  end
  M.print_warnings(result)
  if args.job then
    local ok, jerr = M.write_job(result, args.job, ctx.config)
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

-- commands/exec.lua — `sparkgen exec SOURCE TYPE [--context k=v] [--limit N] [--json]
-- [--output PATH --format parquet|csv|json] [--master M]`: generate, render the job and
-- run it with spark-submit. Spark's own output streams to stderr, the rows to stdout.
-- Exit status: 0 ok, 3 when a validation check failed (each is named), 1 otherwise.
local util = require "sparkgen.util"

local M = {}

M.summary = "Generate a job and run it on Spark with spark-submit."

function M.setup(cmd, cli)
  cli.add_request_arguments(cmd)
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cli.add_history_option(cmd)
  cmd:option("--limit", "Rows to show (default 20; with --json, at most N rows).")
     :argname("<n>"):convert(math.tointeger)
  cmd:flag("--json", "Print the result rows as JSON lines.")
  cmd:option("--output", "Write the rows to PATH instead of printing them."):argname("<path>")
  cmd:option("--format", "Format for --output (default parquet).")
     :choices({"parquet", "csv", "json"})
  cmd:option("--master", "Spark master (default from config spark.master, local[*]).")
     :argname("<url>")
  cmd:option("--job", "Also keep the rendered job in FILE."):argname("<file>")
end

--- The job's own arguments for the parsed exec arguments (report: status file path).
function M.job_args(args, report)
  local out = {}
  if args.limit then out[#out + 1] = "--limit"; out[#out + 1] = tostring(args.limit) end
  if args.json then out[#out + 1] = "--json" end
  if args.output then
    out[#out + 1] = "--output"; out[#out + 1] = args.output
    out[#out + 1] = "--format"; out[#out + 1] = args.format or "parquet"
  end
  if report then out[#out + 1] = "--report"; out[#out + 1] = report end
  return out
end

function M.run(args, ctx)
  local spark = require "sparkgen.spark"
  local cfg = ctx.config
  if args.format and not args.output then return nil, "--format needs --output PATH", 2 end
  -- Fail before paying for generation when Spark cannot run at all.
  local submit, serr = spark.find_submit(cfg)
  if not submit then return nil, serr end
  local request = require "sparkgen.request"
  local generator = require "sparkgen.generator"
  local req, rerr = request.from_args(args)
  if not req then return nil, rerr, 2 end
  local result, err = generator.generate(req, cfg)
  if not result then return nil, err end
  if result.ok == false then
    request.print_findings(result)
    return 1
  end
  request.print_warnings(result)

  local dir, derr = util.tempdir("sparkgen-exec")
  if not dir then return nil, derr end
  local job_path = args.job or (dir .. "/job.py")
  local ok, jerr = require("sparkgen.job").write(result, job_path, cfg)
  if not ok then util.remove_tree(dir) return nil, jerr end
  local report_path = dir .. "/report.json"
  local status, rerr2 = spark.run(cfg, job_path, M.job_args(args, report_path), {master = args.master})
  local report = util.read_file(report_path)
  util.remove_tree(dir)
  if not status then return nil, rerr2 end
  report = report and util.json_decode(report) or nil
  if status == 0 then return 0 end
  -- A name the database lacks and a cached schema: read the catalog again and say what changed.
  local stale = report and report.error and require("sparkgen.schema_refresh").after_failure(cfg, result, report.error)
  if stale then io.stderr:write("sparkgen: ", stale.message, "\n") end
  -- spark-submit merges the job's stderr into stdout, so the job leaves its diagnostics
  -- in the report and they are printed here, on the real stderr.
  for _, f in ipairs(report and type(report.failures) == "table" and report.failures or {}) do
    io.stderr:write(("sparkgen: check failed: %s: %s (%s)\n"):format(
      tostring(f.name), tostring(f.description), tostring(f.detail)))
  end
  if report and report.status == "failed_checks" and #report.failed_checks > 0 then
    return nil, "validation failed: " .. table.concat(report.failed_checks, ", "), 3
  end
  if report and report.error and report.error ~= util.json_null then
    return nil, "the job failed: " .. util.redact(report.error)
  end
  return nil, ("spark-submit exited with status %d"):format(status)
end

return M

-- commands/exec.lua — `sparkgen exec SOURCE TYPE [--context k=v] [--limit N] [--json]
-- [--output PATH | --output-table NAME] [--mode M] [--master M | --remote sc://H:P]`:
-- generate, check the database, render the job and run it (spark.lua). The rows go to
-- stdout; Spark's own log (quiet unless --verbose), the job's errors and failed checks
-- go to stderr. Exit status: 0 ok, 3 when a validation check failed (each is named),
-- 1 otherwise, 2 for a usage error.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

M.summary = "Generate a job and run it on Spark (spark-submit or Spark Connect)."

function M.setup(cmd, cli)
  cli.add_request_arguments(cmd)
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cmd:option("--limit", "Rows to show (default 20; with --json, at most N rows).")
     :argname("<n>"):convert(math.tointeger)
  cmd:flag("--json", "Print the result rows as JSON lines (decimals exact, dates ISO 8601).")
  cmd:option("--output", "Write the rows to PATH (a directory, as Spark writes) instead of printing them.")
     :argname("<path>")
  cmd:option("--output-table", "Write the rows to table NAME of the session's catalog."):argname("<name>")
  cmd:option("--format", "Format for --output (default parquet) or --output-table.")
     :choices({"parquet", "csv", "json"})
  cmd:option("--mode", "When the output exists: error (default: refuse, touch nothing), "
    .. "overwrite, append or ignore."):choices({"error", "overwrite", "append", "ignore"})
  cmd:flag("--single-file", "Write one file whatever the size (default: one file up to spark.single_file_rows rows).")
  cmd:option("--partitions", "Write N files."):argname("<n>"):convert(math.tointeger)
  cmd:option("--master", "Spark master (default from config spark.master, local[*]).")
     :argname("<url>")
  cmd:option("--remote", "Run through Spark Connect at sc://HOST:PORT (default spark.remote, SPARK_REMOTE).")
     :argname("<url>")
  cmd:flag("--verbose", "Show Spark's own log (INFO) instead of warnings and errors only.")
  cmd:option("--job", "Also keep the rendered job in FILE."):argname("<file>")
end

--- The job's own arguments for the parsed exec arguments.
--- files: {report =, rows =, progress =} paths in the private directory.
function M.job_args(args, files)
  local out = {}
  local function add(...) for _, a in ipairs{...} do out[#out + 1] = a end end
  if args.limit then add("--limit", tostring(args.limit)) end
  if args.json then add("--json") end
  if args.output then add("--output", args.output) end
  if args.output_table then add("--output-table", args.output_table) end
  if args.format then add("--format", args.format) end
  if args.mode then add("--mode", args.mode) end
  if args.single_file then add("--single-file") end
  if args.partitions then add("--partitions", tostring(args.partitions)) end
  files = files or {}
  if files.report then add("--report", files.report) end
  if files.rows then add("--rows", files.rows) end
  if files.progress then add("--progress", files.progress) end
  return out
end

-- Usage errors in the output options: nil, or a message.
local function check_output_args(args)
  local writes = args.output or args.output_table
  if args.output and args.output_table then return "--output and --output-table exclude each other" end
  if args.format and not writes then return "--format needs --output PATH or --output-table NAME" end
  if args.mode and not writes then return "--mode needs --output PATH or --output-table NAME" end
  if (args.single_file or args.partitions) and not args.output then
    return (args.single_file and "--single-file" or "--partitions") .. " needs --output PATH"
  end
  if args.single_file and args.partitions then return "--single-file and --partitions exclude each other" end
  if args.partitions and args.partitions < 1 then return "--partitions must be at least 1" end
  if writes and (args.json or args.limit) then
    return (args.json and "--json" or "--limit") .. " prints rows; it cannot be combined with --output/--output-table"
  end
  if args.master and args.remote then return "--master and --remote exclude each other" end
end

-- An output path on this machine that exists, when the mode is error (the default):
-- refused before anything starts.
local function existing_output(args)
  local path = args.output
  if not path or (args.mode and args.mode ~= "error") then return nil end
  local lp
  if path:match("^file:") then lp = "/" .. (path:gsub("^file:/*", ""))
  elseif not path:find("://", 1, true) then lp = path end
  if lp and sys.stat(lp) then
    return ("%s already exists: not touched (--mode overwrite replaces it, append adds to it, "
      .. "ignore leaves it)"):format(path)
  end
end

-- The tables the job reads, as {schema=, name=} for the preflight check.
local function job_tables(result, S)
  local out = {}
  for _, name in ipairs(result.tables_used or {}) do
    local t = S and S.table and S:table(name)
    if t then
      out[#out + 1] = {schema = t.schema or "public", name = t.name}
    else
      local sch, rel = name:match("^([^.]+)%.(.+)$")
      out[#out + 1] = {schema = sch or "public", name = rel or name}
    end
  end
  return out
end

-- Copy a file to a stream in blocks (rows can be many).
local function copy_file(path, out)
  local f = io.open(path, "rb")
  if not f then return end
  while true do
    local block = f:read(65536)
    if not block then break end
    out:write(block)
  end
  f:close()
end

function M.run(args, ctx)
  local spark = require "sparkgen.spark"
  local cfg = ctx.config
  local uerr = check_output_args(args)
  if uerr then return nil, uerr, 2 end
  local remote = args.remote or (not args.master and cfg.spark.remote) or nil
  if remote and not remote:match("^sc://") then
    return nil, ("--remote must be a Spark Connect URL sc://HOST:PORT, got %s"):format(util.redact(remote)), 2
  end
  -- A path on this machine (the Connect server's paths are its own: Spark checks those).
  local exists = not remote and existing_output(args)
  if exists then return nil, exists end
  -- Fail before paying for generation when Spark cannot run at all.
  local submit, serr = spark.find_submit(cfg)
  if not submit then return nil, serr end
  local derr = spark.check_config(cfg)
  if derr and not (remote and derr:match("deployMode")) then return nil, derr end
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

  -- Before Spark starts: the database answers with these credentials and has the tables.
  local creds, perr = spark.preflight(cfg, job_tables(result, generator.schema(cfg)))
  if not creds then return nil, perr end
  local jdbc, jerr = spark.jdbc(cfg, {credentials = creds})
  if not jdbc then return nil, jerr end

  local dir, terr = sys.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/sparkgen-exec")
  if not dir then return nil, "cannot create a private directory: " .. tostring(terr) end
  local job_path = args.job or (dir .. "/job.py")
  local ok, werr = require("sparkgen.job").write(result, job_path, cfg)
  if not ok then util.remove_tree(dir) return nil, werr end
  local verbose = args.verbose or cfg.log.level == "debug"
  local files = {report = dir .. "/report.json", rows = dir .. "/rows",
                 progress = (not verbose and sys.isatty(2)) and (dir .. "/progress") or nil}
  local status, rerr2 = spark.run(cfg, job_path, M.job_args(args, files), {
    dir = dir, jdbc = jdbc, master = args.master, remote = remote, verbose = verbose,
    progress = files.progress,
  })
  copy_file(files.rows, ctx.stdout)
  local report = util.read_file(files.report)
  util.remove_tree(dir)
  if not status then return nil, rerr2 end
  report = report and util.json_decode(report) or nil
  if report and type(report.output) == "string" then io.stderr:write(report.output, "\n") end
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

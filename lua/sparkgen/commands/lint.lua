-- commands/lint.lua — `sparkgen lint FILE.py [--json]`: the checks `generate` applies
-- to model output, run on any file (a generated body or a rendered job; see lint.lua
-- for how a job file is judged). The schema comes from the usual --schema/--db
-- options or config; without one, table and column checks are skipped with a warning.
-- Exit status: 0 clean (warnings are printed but do not fail), 1 error findings,
-- 2 usage error (missing or unreadable file).
local util = require "sparkgen.util"

local M = {}

M.summary = "Check a PySpark body or job against the schema and the code policy."

function M.setup(cmd, cli)
  cmd:argument("file", "The Python file to check ('-' reads standard input)."):argname("<FILE.py>")
  cli.add_source_options(cmd)
  cli.add_output_options(cmd)
end

-- The schema to check against, or nil when none is configured.
local function open_schema(cfg)
  if not cfg.schema and not cfg.db then return nil end
  local ok, schema = pcall(require, "sparkgen.schema")
  if ok then
    local S, err = schema.open(cfg)
    if not S then return nil, err end
    return S
  end
  if not cfg.db then
    -- schema.lua absent: a snapshot file is plain JSON that lint reads directly
    local text, err = util.read_file(cfg.schema)
    if not text then return nil, ("cannot read schema file: %s"):format(err) end
    local snap, jerr = util.json_decode(text)
    if type(snap) ~= "table" then return nil, ("%s: %s"):format(cfg.schema, jerr or "not a schema snapshot") end
    return snap
  end
  return nil, "reading a live database schema needs sparkgen.schema"
end

function M.run(args, ctx)
  local lint = require "sparkgen.lint"
  local cfg = ctx.config
  local out = ctx.stdout or io.stdout
  local file = args.file
  local code, rerr
  if file == "-" then
    code = io.stdin:read(util.READ_LIMIT + 1) or ""
    file = "<stdin>"
    if #code > util.READ_LIMIT then return nil, ("<stdin>: more than %d bytes"):format(util.READ_LIMIT), 2 end
  else
    local st = require("sparkgen.sys").stat(file)
    if not st then return nil, ("%s: no such file"):format(file), 2 end
    if st.type ~= "file" then return nil, ("%s: not a regular file"):format(file), 2 end
    code, rerr = util.read_file(file)
    if not code then return nil, ("cannot read %s: %s"):format(file, rerr), 2 end
  end
  local S, serr
  if cfg.schema or cfg.db then
    S, serr = open_schema(cfg)
    if not S then return nil, serr, 1 end
  end
  local report, err = lint.check(code, {schema = S, policy = cfg.lint})
  if not report then return nil, err, 1 end
  if args.json then
    out:write(util.json_encode({file = file, ok = report.ok, findings = report.findings,
                                tables_used = report.tables_used, complexity = report.complexity,
                                partial = report.partial}, 2), "\n")
  else
    for _, f in ipairs(report.findings) do
      out:write(lint.format(f, file), "\n")
    end
  end
  return report.ok and 0 or 1
end

return M

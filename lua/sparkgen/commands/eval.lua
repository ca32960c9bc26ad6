-- commands/eval.lua — `sparkgen eval SUITE [--replay DIR | --record DIR] [--json]
-- [--min-pass R] [--case NAME]... [--master M | --remote sc://H:P]`: run an eval suite (see eval.lua) and
-- exit non-zero unless the pass rate reaches --min-pass (default: every case).
local util = require "sparkgen.util"

local M = {}

M.summary = "Run an evaluation suite: generate, lint, run on Spark, compare with reference SQL."

function M.setup(cmd, cli)
  cmd:argument("suite", "The suite file (Lua), e.g. examples/eval/shop.lua.")
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cli.add_history_option(cmd)
  cli.add_output_options(cmd)
  cmd:option("--record", "Store the provider's responses in DIR."):argname("<dir>")
  cmd:option("--replay", "Answer from the responses stored in DIR (offline, no model)."):argname("<dir>")
  cmd:option("--min-pass", "Pass rate (0..1) needed for exit status 0 (default 1).")
     :argname("<rate>"):convert(tonumber)
  cmd:option("--case", "Run only this case (repeatable)."):argname("<name>"):count("*")
  cmd:option("--master", "Spark master (default from config spark.master)."):argname("<url>")
  cmd:option("--remote", "Run the cases through Spark Connect at sc://HOST:PORT (default spark.remote)."):argname("<url>")
end

function M.run(args, ctx)
  local eval = require "sparkgen.eval"
  if args.record and args.replay then return nil, "--record and --replay exclude each other", 2 end
  local min_pass = args.min_pass or 1
  if min_pass < 0 or min_pass > 1 then return nil, "--min-pass must be between 0 and 1", 2 end
  local suite, err = eval.load_suite(args.suite)
  if not suite then return nil, err end
  local only
  if args.case and #args.case > 0 then
    only = {}
    local names = {}
    for _, c in ipairs(suite.cases) do names[#names + 1] = c.name end
    for _, name in ipairs(args.case) do
      local found = false
      for _, n in ipairs(names) do if n == name then found = true end end
      if not found then return nil, ("no case '%s' in %s%s"):format(name, args.suite, util.suggest(name, names)), 2 end
      only[name] = true
    end
  end
  local report, rerr = eval.run(suite, ctx.config, {record_dir = args.record, replay_dir = args.replay,
                                                    master = args.master, remote = args.remote, only = only,
                                                    no_cache = ctx.config.cache.enabled == false})
  if not report then return nil, rerr end
  if args.json then
    ctx.stdout:write(util.json_encode(report, 2), "\n")
  else
    ctx.stdout:write(eval.format(report))
  end
  ctx.stdout:flush()
  local s = report.summary
  if s.pass_rate + 1e-9 < min_pass then
    return nil, ("%d of %d cases passed (%.1f%%), below --min-pass %g"):format(s.passed, s.cases,
      100 * s.pass_rate, min_pass)
  end
  return 0
end

return M

-- commands/eval.lua — `sparkgen eval SUITE [--replay DIR | --record DIR] [--json]
-- [--min-pass R] [--case NAME]... [--master M | --remote sc://H:P] [--no-progress]` runs an eval suite
-- (see eval.lua); `sparkgen eval --compare A.json B.json` shows which cases changed
-- between two `--json` reports.
-- Exit status: 0 when the share of cases that came out as expected (a normal case
-- passed, a known-wrong one was reported wrong) reaches --min-pass (default: all) and
-- no known-wrong case passed; 1 otherwise. --compare: 1 when a case regressed.
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

M.summary = "Run an evaluation suite: generate, lint, run on Spark, compare with reference SQL."

function M.setup(cmd, cli)
  cmd:argument("suite", "The suite file (Lua), e.g. examples/eval/shop.lua."):args("?")
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cli.add_history_option(cmd)
  cli.add_output_options(cmd)
  cmd:option("--record", "Store the provider's responses in DIR."):argname("<dir>")
  cmd:option("--replay", "Answer from the responses stored in DIR (offline, no model)."):argname("<dir>")
  cmd:option("--min-pass", "Share of cases (0..1) that must come out as expected for exit status 0 (default 1).")
     :argname("<rate>"):convert(tonumber)
  cmd:option("--case", "Run only this case (repeatable)."):argname("<name>"):count("*")
  cmd:option("--master", "Spark master (default from config spark.master)."):argname("<url>")
  cmd:option("--remote", "Run the cases through Spark Connect at sc://HOST:PORT (default spark.remote)."):argname("<url>")
  cmd:option("--compare", "Compare two --json reports: which cases changed."):args(2):argname({"<a.json>", "<b.json>"})
  cmd:flag("--no-progress", "Never draw the progress line.")
end

local function read_report(path)
  local text, err = util.read_file(path)
  if not text then return nil, ("cannot read %s: %s"):format(path, err) end
  local doc = util.json_decode(text)
  if type(doc) ~= "table" or type(doc.cases) ~= "table" or doc.format ~= require("sparkgen.eval_report").FORMAT then
    return nil, ("%s is not a report written by `sparkgen eval --json`"):format(path)
  end
  return doc
end

local function compare(args, ctx)
  local report = require "sparkgen.eval_report"
  local a, aerr = read_report(args.compare[1])
  if not a then return nil, aerr end
  local b, berr = read_report(args.compare[2])
  if not b then return nil, berr end
  local cmp = report.compare(a, b)
  if args.json then
    ctx.stdout:write(util.json_encode({changed = util.array(cmp.changed), only_a = util.array(cmp.only_a),
      only_b = util.array(cmp.only_b), regressions = cmp.regressions, improvements = cmp.improvements}, 2), "\n")
  else
    ctx.stdout:write(report.format_compare(cmp, args.compare[1], args.compare[2]))
  end
  return cmp.regressions == 0 and 0 or 1
end

local function selection(suite, wanted, path)
  if not wanted or #wanted == 0 then return nil end
  local only, names = {}, {}
  for _, c in ipairs(suite.cases) do names[#names + 1] = c.name end
  for _, name in ipairs(wanted) do
    local found = false
    for _, n in ipairs(names) do if n == name then found = true end end
    if not found then return nil, ("no case '%s' in %s%s"):format(name, path, util.suggest(name, names)) end
    only[name] = true
  end
  return only
end

--- The progress line for an eval.run progress event: phase, case n/N, the case
--- running now, elapsed time.
function M.progress_text(ev)
  local what = ev.phase == "generate" and ("generating %d/%d"):format(ev.done, ev.total)
    or ("case %d/%d %s"):format(math.min(ev.done + 1, ev.total), ev.total, ev.case or "")
  return ("eval: %s · %.1f s"):format(what, ev.elapsed or 0)
end

-- On a terminal the line is redrawn in place on stderr, and cleared at the end.
local function progress_printer(enabled)
  if not enabled then return nil, function() end end
  local drawn = false
  local function draw(ev)
    io.stderr:write("\r", M.progress_text(ev), "\027[K")
    io.stderr:flush()
    drawn = true
  end
  return draw, function() if drawn then io.stderr:write("\r\027[K") io.stderr:flush() end end
end

--- The exit verdict of a report's summary: nil when the run is good, else the one-line
--- message. A known-wrong case that passed always fails the run.
function M.verdict(s, min_pass, explicit)
  if #s.known_wrong_passed > 0 then
    return ("%d known-wrong case%s passed (%s): the reference or the comparison no longer tells them apart"):format(
      #s.known_wrong_passed, #s.known_wrong_passed == 1 and "" or "s", table.concat(s.known_wrong_passed, ", "))
  end
  if s.expected_rate + 1e-9 < min_pass then
    return ("%d of %d cases came out as expected (%.1f%%)%s"):format(s.as_expected, s.cases,
      100 * s.expected_rate, explicit and (", below --min-pass %g"):format(min_pass) or "")
  end
end

function M.run(args, ctx)
  if args.compare then
    if args.suite then return nil, "--compare takes two reports and no suite", 2 end
    return compare(args, ctx)
  end
  if not args.suite then return nil, "a suite file is needed (or --compare A.json B.json)", 2 end
  local eval = require "sparkgen.eval"
  if args.record and args.replay then return nil, "--record and --replay exclude each other", 2 end
  local min_pass = args.min_pass or 1
  if min_pass < 0 or min_pass > 1 then return nil, "--min-pass must be between 0 and 1", 2 end
  local suite, err = eval.load_suite(args.suite)
  if not suite then return nil, err end
  local only, oerr = selection(suite, args.case, args.suite)
  if oerr then return nil, oerr, 2 end
  local cfg = ctx.config
  -- The suite's snapshot is what its recordings were made against: it stands in when
  -- no schema is configured (flags, environment and config files win).
  if suite.schema_path and not cfg.schema then cfg.schema = suite.schema_path end
  local draw, clear = progress_printer(not args.no_progress and sys.isatty(2))
  local report, rerr = eval.run(suite, cfg, {record_dir = args.record, replay_dir = args.replay,
                                             master = args.master, remote = args.remote, only = only,
                                             on_progress = draw,
                                             no_cache = cfg.cache.enabled == false})
  clear()
  require("sparkgen.sparkserver").close_all()
  if not report then return nil, rerr end
  if args.json then
    ctx.stdout:write(util.json_encode(report, 2), "\n")
  else
    ctx.stdout:write(eval.format(report))
  end
  ctx.stdout:flush()
  local verdict = M.verdict(report.summary, min_pass, args.min_pass ~= nil)
  if verdict then return nil, verdict end
  return 0
end

return M

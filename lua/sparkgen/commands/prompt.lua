-- commands/prompt.lua — `sparkgen prompt SOURCE TYPE|"free text" [--context k=v]`:
-- print the exact HTTP request body sparkgen would send to the model (pretty JSON), so
-- a prompt can be reviewed, diffed or pasted elsewhere without spending a request.
-- `--compact` prints the very bytes that go on the wire; `--provider`/`--model` choose
-- the dialect. Nothing is sent and no key is needed (the key is never printed).
local util = require "sparkgen.util"

local M = {}

M.summary = "Print the request that would be sent to the model."

function M.setup(cmd, cli)
  cli.add_request_arguments(cmd)
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cmd:flag("--compact", "Print the body exactly as sent (one line) instead of indented.")
  cmd:flag("--url", "Print the method and URL on a line before the body.")
end

function M.run(args, ctx)
  local generator = require "sparkgen.generator"
  local llm = require "sparkgen.llm"
  local prompt = require "sparkgen.prompt"
  local cfg = ctx.config
  local req, rerr = require("sparkgen.request").from_args(args)
  if not req then return nil, rerr, 2 end
  local prep, err = generator.prepare(req, cfg)
  if not prep then return nil, err end
  local rules = {}
  local has_checks, checks = pcall(require, "sparkgen.checks")
  if has_checks and checks.list then rules = checks.list() end
  local request
  request, err = prompt.build{request = prep.request, typedef = prep.typedef, tables = prep.tables,
                              foreign_keys = prep.foreign_keys, rules = rules, cfg = cfg}
  if not request then return nil, err end
  -- "template" (or no choice) still shows the model request: that is what this is for.
  local provider, perr = llm.provider(cfg)
  if not provider then return nil, perr, 2 end
  local http_req = provider.build_http(request, cfg, nil)
  local out = ctx.stdout
  if args.url then out:write(http_req.method, " ", http_req.url, "\n") end
  if args.compact then
    out:write(http_req.body, "\n")
  else
    out:write(util.json_encode(provider.body(request, cfg), 2), "\n")
  end
  return 0
end

return M

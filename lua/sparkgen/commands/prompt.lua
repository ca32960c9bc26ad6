-- commands/prompt.lua — `sparkgen prompt SOURCE TYPE|"free text" [--context k=v]`:
-- print the exact HTTP request body sparkgen would send to the model (pretty JSON), so
-- a prompt can be reviewed, diffed or pasted elsewhere without spending a request.
-- `--compact` prints the very bytes that go on the wire; `--provider`/`--model` choose
-- the dialect. Nothing is sent and no key is needed (the key is never printed).
-- `--count` sends the request to the free count_tokens endpoint instead and prints its
-- input tokens and what they would cost (llm/prices.lua).
local util = require "sparkgen.util"

local M = {}

M.summary = "Print the request that would be sent to the model."

function M.setup(cmd, cli)
  cli.add_request_arguments(cmd)
  cli.add_source_options(cmd)
  cli.add_llm_options(cmd)
  cmd:flag("--compact", "Print the body exactly as sent (one line) instead of indented.")
  cmd:flag("--url", "Print the method and URL on a line before the body.")
  cmd:flag("--count", "Ask the free count_tokens endpoint what the request would cost instead of printing it.")
  cmd:flag("--json", "With --count: print the count and the cost as JSON.")
end

-- `--count`: input tokens from the API, priced from llm/prices.lua.
local function count(request, cfg, pname, out, as_json)
  if pname ~= "anthropic" then
    return nil, ("--count uses Anthropic's count_tokens endpoint; provider %s has none"):format(pname), 2
  end
  local config = require "sparkgen.config"
  local llm = require "sparkgen.llm"
  local anthropic = require "sparkgen.llm.anthropic"
  local key = config.api_key("anthropic", cfg)
  if not key or key == "" then
    return nil, "--count asks the API (a free call): export ANTHROPIC_API_KEY=..."
  end
  local n, err = anthropic.count_tokens(request, cfg, key)
  if not n then return nil, err end
  local model = anthropic.model(cfg)
  local input_usd, why = llm.cost(model, {input_tokens = n}, {cfg = cfg})
  local output_usd = llm.cost(model, {output_tokens = request.max_tokens}, {cfg = cfg})
  if as_json then
    out:write(util.json_encode({model = model, input_tokens = n, max_tokens = request.max_tokens,
      input_cost_usd = input_usd or util.json_null, max_output_cost_usd = output_usd or util.json_null,
      cost_note = why}, 2), "\n")
    return 0
  end
  out:write(("%d input tokens for %s\n"):format(n, model))
  if input_usd then
    out:write(("cost: %s for the input (uncached), plus at most %s for the output (max_tokens=%d, billed as generated)\n")
      :format(llm.prices.format(input_usd), llm.prices.format(output_usd), request.max_tokens))
  else
    out:write(("cost: %s\n"):format(why))
  end
  return 0
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
  if args.count then return count(request, cfg, provider.name, ctx.stdout, args.json) end
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

-- examples/eval/record.lua — writes the recordings for shop.lua's free-text cases from
-- the readable answers in answers.lua, through sparkgen's real request path (prompt,
-- cache key, lint, record) with a stand-in transport instead of the network, so the
-- recordings match exactly what `sparkgen eval --replay` will look up. Re-run it when
-- prompts/ or the shop schema change:
--   sparkgen run --trusted examples/eval/record.lua [OUT_DIR [SCHEMA_JSON]]
local config = require "sparkgen.config"
local eval = require "sparkgen.eval"
local llm = require "sparkgen.llm"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local out_dir = arg[1] or (here .. "/replay")
local schema = arg[2] or (here .. "/../shop/schema.json")

local suite = assert(eval.load_suite(here .. "/shop.lua"))
local answers = dofile(here .. "/answers.lua")
local cfg = assert(config.load{flags = {schema = schema, cache = {enabled = false}}})

-- The case a request is about: its text appears (JSON-quoted) in the user message.
local function case_for(body)
  local texts = {}
  for _, m in ipairs(body.messages or {}) do
    for _, block in ipairs(type(m.content) == "table" and m.content or {}) do
      if type(block.text) == "string" then texts[#texts + 1] = block.text end
    end
  end
  local all = table.concat(texts, "\n")
  for _, c in ipairs(suite.cases) do
    if c.text and all:find(c.text, 1, true) then return c end
  end
end

local function respond(req)
  local body = util.json_decode(req.body) or {}
  local c = case_for(body)
  local a = c and answers[c.name]
  if not a then return {status = 500, headers = {}, body = '{"type":"error","error":{"type":"api_error","message":"no recorded answer"}}'} end
  local doc = {
    id = "msg_recorded_" .. c.name, type = "message", role = "assistant", model = body.model,
    stop_reason = "tool_use",
    content = {{type = "tool_use", id = "toolu_" .. c.name, name = body.tools[1].name, input = a}},
    -- A rough size, so summaries show tokens for recorded answers too.
    usage = {input_tokens = #req.body // 4, output_tokens = #util.json_encode(a) // 4},
  }
  return {status = 200, headers = {["request-id"] = "req_recorded_" .. c.name}, body = util.json_encode(doc)}
end

llm.http = {
  request = respond,
  request_many = function(reqs)
    local out = {}
    for i, r in ipairs(reqs) do out[i] = respond(r) end
    return out
  end,
}
-- No request leaves the machine; the key only satisfies the provider check.
sys.setenv("ANTHROPIC_API_KEY", "recording-without-network")
util.remove_tree(out_dir)
local outcomes = eval.generate(suite, cfg, {record_dir = out_dir, no_cache = true})
local bad = 0
for i, c in ipairs(suite.cases) do
  local o = outcomes[i]
  if c.text then
    if o.error or (o.result and o.result.ok == false) then
      bad = bad + 1
      print(("FAILED %s: %s"):format(c.name, o.error or util.json_encode(o.result.findings)))
    end
  end
end
print(("recorded %d answers in %s%s"):format(#(sys.listdir(out_dir) or {}), out_dir,
  bad > 0 and (" (%d failed)"):format(bad) or ""))
return bad == 0 and 0 or 1

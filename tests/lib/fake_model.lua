-- tests/lib/fake_model.lua — an in-process stand-in for sparkgen.http that answers
-- every Messages API request at once with a distinct, valid emit_code answer, for specs
-- of the batch flow (no sockets, no timing):
--   local fake = dofile(HOME .. "/tests/lib/fake_model.lua").new{before_answer = fn(i)}
--   llm.http = fake; ...; fake.calls = requests answered by each request_many call, fake.sent = n
local cjson = require "cjson.safe"

local M = {}

--- The 200 answer for the n-th request: code that reads orders and differs per request.
function M.answer(n)
  local input = {code = ('orders = read_table("orders")\nresult_df = orders.select("order_id", F.lit(%d).alias("n"))\n'):format(n),
                 description = "d", tables_used = {"orders"}, estimated_complexity = "low",
                 validation_checks = {}}
  return {status = 200, attempts = 1, headers = {["request-id"] = "req_" .. n},
          body = cjson.encode{id = "msg_" .. n, type = "message", role = "assistant", model = "m",
            content = {{type = "tool_use", id = "toolu_" .. n, name = "emit_code", input = input}},
            stop_reason = "tool_use", usage = {input_tokens = 1, output_tokens = 1}}}
end

function M.new(opts)
  opts = opts or {}
  local t = {calls = {}, sent = 0}
  -- Like sparkgen.http: with o.more, requests are pulled one at a time after the listed
  -- ones (nil: nothing now; asked again after an answer) and answers go to on_done only.
  function t.request_many(reqs, o)
    local out, i, idle = {}, 0, false
    t.calls[#t.calls + 1] = 0
    while true do
      local req = reqs[i + 1]
      if not req and o and o.more and not idle then
        req = o.more()
        idle = req == nil
      end
      if not req then return out end
      i = i + 1
      t.calls[#t.calls] = t.calls[#t.calls] + 1
      t.sent = t.sent + 1
      if opts.before_answer then opts.before_answer(t.sent) end
      local a = M.answer(t.sent)
      if i <= #reqs then out[i] = a end
      if o and o.on_done then o.on_done(i, a) end
      idle = false
    end
  end
  function t.request(req)
    return t.request_many({req})[1]
  end
  return t
end

return M

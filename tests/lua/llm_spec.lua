-- llm_spec.lua — the providers' request shapes and answer parsing, and llm.complete's
-- policy (malformed-input retry, response cache, record/replay) over a scripted
-- in-process transport. The same paths against the HTTP mock server are in the
-- "against the mock" block at the end.
local cjson = require "cjson.safe"
local config = require "sparkgen.config"
local llm = require "sparkgen.llm"
local anthropic = require "sparkgen.llm.anthropic"
local openai = require "sparkgen.llm.openai"
local prompt = require "sparkgen.prompt"
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local TMP = os.getenv("TEST_TMP") or "/tmp"
local FAKE_KEY = "sk-ant-test-0123456789SECRET"

local function fresh_dir(name)
  local dir = ("%s/llm-%s-%d-%d"):format(TMP, name, sys.getpid(), math.random(1, 1 << 30))
  assert(sys.mkdir_p(dir))
  return dir
end

local function make_cfg(over)
  local cfg = assert(config.load{files = {}})
  cfg.cache.dir = fresh_dir("cache")
  for k, v in pairs(over or {}) do cfg[k] = v end
  return cfg
end

local function request(text)
  return {system = "SYSTEM", schema_block = "<schema>\ntable orders\n</schema>\n", user = text or "count orders",
          tool = prompt.tool({{name = "non_empty"}, {name = "required_columns"}, {name = "unique"}}), max_tokens = 1000, temperature = 0,
          label = text or "count orders"}
end

local GOOD = {code = "result_df = read_table('orders')", description = "All orders.",
              tables_used = {"orders"}, estimated_complexity = "low",
              validation_checks = {{rule = "non_empty", params = {}}}}

-- A 200 Messages API answer whose tool input is `input`.
local function anthropic_answer(input, extra)
  local doc = {id = "msg_1", type = "message", role = "assistant", model = "claude-test",
               content = {{type = "tool_use", id = "toolu_1", name = "emit_code", input = input}},
               stop_reason = "tool_use", stop_sequence = cjson.null,
               usage = {input_tokens = 412, output_tokens = 57, cache_creation_input_tokens = 300,
                        cache_read_input_tokens = 0}}
  for k, v in pairs(extra or {}) do doc[k] = v end
  return {status = 200, headers = {["request-id"] = "req_test1"}, body = util.json_encode(doc), attempts = 1}
end

-- A transport that answers from a script and remembers what it was sent.
local function fake_transport(script)
  local t = {sent = {}}
  local function answer(req)
    t.sent[#t.sent + 1] = req
    local a = table.remove(script, 1)
    assert(a, "the fake transport ran out of scripted answers")
    return a
  end
  t.request = answer
  -- Like sparkgen.http: with o.more, requests are pulled after the listed ones until
  -- more() has none, and their answers go to on_done only.
  t.request_many = function(reqs, o)
    local out = {}
    for i, r in ipairs(reqs) do
      out[i] = answer(r)
      if o and o.on_done then o.on_done(i, out[i]) end
    end
    local i = #reqs
    while o and o.more do
      local r = o.more()
      if not r then break end
      i = i + 1
      o.on_done(i, answer(r))
    end
    return out
  end
  return t
end

local function with_key(fn)
  local old = os.getenv("ANTHROPIC_API_KEY")
  sys.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
  local ok, err = pcall(fn)
  sys.setenv("ANTHROPIC_API_KEY", old)
  llm.http = nil
  if not ok then error(err, 0) end
end

local function grep_dir(dir, needle)
  for _, name in ipairs(sys.listdir(dir) or {}) do
    local path = dir .. "/" .. name
    local st = sys.stat(path)
    if st and st.type == "dir" then
      if grep_dir(path, needle) then return true end
    elseif st then
      local text = util.read_file(path) or ""
      if text:find(needle, 1, true) then return true end
    end
  end
  return false
end

describe("anthropic request", function()
  local cfg = make_cfg()
  local req = anthropic.build_http(request(), cfg, FAKE_KEY)
  local body = cjson.decode(req.body)

  it("posts to {base}/v1/messages with the key, version and JSON content type", function()
    assert.equal("POST", req.method)
    assert.equal("https://api.anthropic.com/v1/messages", req.url)
    assert.equal(FAKE_KEY, req.headers["x-api-key"])
    assert.equal("2023-06-01", req.headers["anthropic-version"])
    assert.equal("application/json", req.headers["content-type"])
    assert.is_nil(req.headers["anthropic-beta"])
  end)
  it("sends anthropic-beta comma-joined when configured", function()
    local c = make_cfg()
    c.anthropic.beta = {"a-1", "b-2"}
    assert.equal("a-1,b-2", anthropic.build_http(request(), c, FAKE_KEY).headers["anthropic-beta"])
  end)
  it("sends the system prompt as a text block", function()
    assert.same({{type = "text", text = "SYSTEM"}}, body.system)
  end)
  it("marks the schema block, its own content block, for prompt caching", function()
    local content = body.messages[1].content
    assert.equal("<schema>\ntable orders\n</schema>\n", content[1].text)
    assert.same({type = "ephemeral"}, content[1].cache_control)
    assert.equal("count orders", content[2].text)
    assert.is_nil(content[2].cache_control)
  end)
  it("declares one tool and forces it", function()
    assert.equal(1, #body.tools)
    assert.equal("emit_code", body.tools[1].name)
    assert.equal("object", body.tools[1].input_schema.type)
    assert.same({type = "tool", name = "emit_code"}, body.tool_choice)
  end)
  it("sends strict tool use for a model whose capabilities say so, and not for others", function()
    local function strict_of(cfg) return anthropic.body(request(), cfg).tools[1].strict end
    assert.is_true(strict_of(make_cfg({model = "claude-sonnet-4-6"})))
    assert.is_nil(strict_of(make_cfg({model = "claude-unlisted-1"})))
    local cfg = make_cfg({model = "claude-unlisted-1"})
    cfg.models = {["claude-unlisted-1"] = {strict = true}}
    assert.is_true(strict_of(cfg))
    cfg = make_cfg({model = "claude-sonnet-4-6"})
    cfg.models = {["claude-sonnet-4-6"] = {strict = false}}
    assert.is_nil(strict_of(cfg))
  end)
  it("never sends strict to an OpenAI-compatible server", function()
    local body = openai.body(request(), make_cfg({model = "claude-sonnet-4-6"}))
    assert.is_nil(body.tools[1]["function"].strict)
    assert.is_nil(body.tools[1].strict)
  end)
  it("takes the model, max_tokens and temperature from the config and request", function()
    assert.equal("claude-sonnet-5", body.model)
    assert.equal(1000, body.max_tokens)
    assert.equal(0, body.temperature)
  end)
end)

describe("anthropic answers", function()
  local req = request()
  it("accept the tool input and skip unknown content blocks", function()
    local resp = anthropic_answer(GOOD)
    local doc = cjson.decode(resp.body)
    table.insert(doc.content, 1, {type = "thinking", thinking = "hmm", signature = "x"})
    resp.body = util.json_encode(doc)
    local res = assert(anthropic.parse(resp, req))
    assert.equal(GOOD.code, res.output.code)
    assert.equal("req_test1", res.request_id)
    assert.same({input_tokens = 412, output_tokens = 57, cache_creation_input_tokens = 300,
                 cache_read_input_tokens = 0}, res.usage)
  end)
  it("never accept a tool input truncated at max_tokens", function()
    local res, err, kind = anthropic.parse(anthropic_answer(GOOD, {stop_reason = "max_tokens"}), req)
    assert.is_nil(res)
    assert.equal("truncated", kind)
    assert.matches("answer truncated at max_tokens=1000", err, 1, true)
  end)
  it("report a refusal as such", function()
    local resp = anthropic_answer(GOOD, {stop_reason = "refusal",
      content = {{type = "text", text = "I cannot help with that."}}})
    local _, err, kind = anthropic.parse(resp, req)
    assert.equal("refusal", kind)
    assert.matches("the model refused: I cannot help with that.", err, 1, true)
  end)
  it("report an answer without the tool call", function()
    local resp = anthropic_answer(GOOD, {stop_reason = "end_turn", content = {{type = "text", text = "Here you go"}}})
    local _, err, kind = anthropic.parse(resp, req)
    assert.equal("no_tool", kind)
    assert.matches("no emit_code tool call", err, 1, true)
  end)
  it("turn an error envelope into one line with the request id", function()
    local resp = {status = 529, headers = {["request-id"] = "req_over"}, body = util.json_encode(
      {type = "error", error = {type = "overloaded_error", message = "Overloaded"}, request_id = "req_over"})}
    local _, err = anthropic.parse(resp, req)
    assert.equal("anthropic: overloaded_error: Overloaded (request-id req_over)", err)
  end)
  it("say a rejected key is rejected, how to set it, and never print it", function()
    local resp = {status = 401, headers = {["request-id"] = "req_auth"}, body = util.json_encode(
      {type = "error", error = {type = "authentication_error", message = "invalid x-api-key"}})}
    local _, err, kind = anthropic.parse(resp, req)
    assert.equal("auth", kind)
    assert.matches("API key was rejected", err, 1, true)
    assert.matches("ANTHROPIC_API_KEY", err, 1, true)
    assert.not_matches(FAKE_KEY, err, 1, true)
  end)
  it("report a non-JSON error body (a proxy's 413) by its status", function()
    local _, err = anthropic.parse({status = 413, headers = {}, body = "<html>Request Entity Too Large</html>"}, req)
    assert.matches("^anthropic: HTTP 413: ", err)
  end)
  it("report a 200 whose body is not JSON", function()
    local _, _, kind = anthropic.parse({status = 200, headers = {}, body = "{not json"}, req)
    assert.equal("protocol", kind)
  end)
  it("report a transport failure with the attempts made", function()
    local _, err, kind = anthropic.parse({error = "connection refused", attempts = 3}, req)
    assert.equal("transport", kind)
    assert.equal("anthropic: connection refused (after 3 attempts)", err)
  end)
end)

describe("openai-compatible provider", function()
  local cfg = make_cfg()
  it("posts to {base}/v1/chat/completions with the tool in the function form", function()
    local req = openai.build_http(request(), cfg, nil)
    local body = cjson.decode(req.body)
    assert.equal("http://127.0.0.1:11434/v1/chat/completions", req.url)
    assert.is_nil(req.headers["authorization"])
    assert.equal("system", body.messages[1].role)
    assert.equal("function", body.tools[1].type)
    assert.equal("emit_code", body.tools[1]["function"].name)
    assert.same({type = "function", ["function"] = {name = "emit_code"}}, body.tool_choice)
  end)
  it("sends the key as a bearer token when one is set", function()
    assert.equal("Bearer k-123", openai.build_http(request(), cfg, "k-123").headers["authorization"])
  end)
  local function answer(arguments, finish)
    return {status = 200, headers = {}, body = util.json_encode({id = "chatcmpl-1", model = "llama3.1",
      choices = {{index = 0, finish_reason = finish or "tool_calls", message = {role = "assistant",
        tool_calls = {{id = "call_1", type = "function", ["function"] = {name = "emit_code", arguments = arguments}}}}}},
      usage = {prompt_tokens = 100, completion_tokens = 20}})}
  end
  it("decodes the arguments JSON string", function()
    local res = assert(openai.parse(answer(util.json_encode(GOOD)), request()))
    assert.equal(GOOD.code, res.output.code)
    assert.equal(100, res.usage.input_tokens)
    assert.equal(20, res.usage.output_tokens)
  end)
  it("calls arguments that are not JSON malformed (so they are retried)", function()
    local _, _, kind, partial = openai.parse(answer("{\"code\": "), request())
    assert.equal("malformed", kind)
    assert.equal("call_1", partial.tool_call.id)
  end)
  it("never accepts an answer cut at the length limit", function()
    local _, err = openai.parse(answer(util.json_encode(GOOD), "length"), request())
    assert.matches("answer truncated at max_tokens=1000", err, 1, true)
  end)
end)

describe("the SSE reader", function()
  local stream = require "sparkgen.llm.stream"
  local EVENTS = table.concat({
    'event: message_start\r\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
      .. '"model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":7,"output_tokens":1}}}\r\n\r\n',
    'event: ping\ndata: {"type": "ping"}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":'
      .. '{"type":"tool_use","id":"toolu_1","name":"emit_code","input":{}}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
      .. '{"type":"input_json_delta","partial_json":"{\\"code\\": \\"x = 1"}}\n\n',
    'event: something_new\ndata: {"type":"something_new"}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
      .. '{"type":"input_json_delta","partial_json":"\\"}"}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
      .. '"usage":{"output_tokens":12}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  })
  it("assembles the message from pieces cut anywhere, skipping pings and unknown events", function()
    local s = stream.new()
    for i = 1, #EVENTS do s:feed(EVENTS:sub(i, i), 200, 1) end
    local msg = assert(s:result())
    assert.equal("tool_use", msg.stop_reason)
    assert.same({input_tokens = 7, output_tokens = 12}, msg.usage)
    assert.same({{type = "tool_use", id = "toolu_1", name = "emit_code", input = {code = "x = 1"}}}, msg.content)
  end)
  it("starts over when the transport retries, and ignores an error status's body", function()
    local s = stream.new()
    s:feed(EVENTS:sub(1, 200), 200, 1)
    s:feed('{"type":"error"}', 529, 2)
    s:feed(EVENTS, 200, 3)
    assert.equal("tool_use", assert(s:result()).stop_reason)
  end)
  it("says a stream that ended early is unusable", function()
    local s = stream.new()
    s:feed(EVENTS:sub(1, #EVENTS - 50), 200, 1)
    local msg, err, why = s:result()
    assert.is_nil(msg)
    assert.is_nil(err)
    assert.equal("the stream ended before message_stop", why)
  end)
end)

describe("llm.validate", function()
  local schema = prompt.tool({{name = "non_empty"}}).input_schema
  it("accepts a complete GeneratedCode input", function()
    assert.truthy(llm.validate(GOOD, schema))
  end)
  it("names a missing field", function()
    local bad = util.copy(GOOD)
    bad.tables_used = nil
    local _, err = llm.validate(bad, schema)
    assert.equal("input.tables_used is missing", err)
  end)
  it("rejects a rule that is not installed", function()
    local bad = util.copy(GOOD)
    bad.validation_checks = {{rule = "no_such_rule"}}
    local _, err = llm.validate(bad, schema)
    assert.matches("input.validation_checks[0].rule must be one of", err, 1, true)
  end)
  it("rejects an input that is not an object", function()
    local _, err = llm.validate({1, 2}, schema)
    assert.equal("input must be an object", err)
  end)
end)

describe("llm.complete", function()
  it("retries a malformed tool input once, appending the complaint to the conversation", function()
    with_key(function()
      local bad = util.copy(GOOD)
      bad.estimated_complexity = "enormous"
      local t = fake_transport({anthropic_answer(bad), anthropic_answer(GOOD)})
      llm.http = t
      local res = assert(llm.complete(make_cfg(), request(), {no_cache = true}))
      assert.equal(2, #t.sent)
      assert.equal(GOOD.code, res.output.code)
      assert.equal(2, res.attempts)
      assert.equal(824, res.usage.input_tokens) -- both calls are paid for
      local second = cjson.decode(t.sent[2].body)
      assert.equal(3, #second.messages)
      assert.equal("tool_use", second.messages[2].content[1].type)
      local tr = second.messages[3].content[1]
      assert.equal("tool_result", tr.type)
      assert.equal("toolu_1", tr.tool_use_id)
      assert.is_true(tr.is_error)
      assert.matches("estimated_complexity must be one of", tr.content, 1, true)
    end)
  end)
  it("reports a tool input that is still malformed after the retry", function()
    with_key(function()
      local t = fake_transport({anthropic_answer({code = 1}), anthropic_answer({code = 2})})
      llm.http = t
      local res, err = llm.complete(make_cfg(), request(), {no_cache = true})
      assert.is_nil(res)
      assert.equal(2, #t.sent)
      assert.matches("malformed after a retry", err, 1, true)
      assert.matches("request-id req_test1", err, 1, true)
    end)
  end)
  it("asks a truncated answer again once with twice the max_tokens, and says so", function()
    with_key(function()
      local t = fake_transport({anthropic_answer(GOOD, {stop_reason = "max_tokens"}), anthropic_answer(GOOD)})
      llm.http = t
      local res = assert(llm.complete(make_cfg(), request(), {no_cache = true}))
      assert.equal(2, #t.sent)
      assert.equal(2000, cjson.decode(t.sent[2].body).max_tokens)
      assert.same({from = 1000, to = 2000}, res.max_tokens_raised)
      assert.equal(824, res.usage.input_tokens) -- the truncated answer was billed too
    end)
  end)
  it("raises max_tokens no further than the model's limit, and only once", function()
    with_key(function()
      local cfg = make_cfg({model = "claude-limited"})
      cfg.models = {["claude-limited"] = {max_output_tokens = 1500}}
      local t = fake_transport({anthropic_answer(GOOD, {stop_reason = "max_tokens"}),
                                anthropic_answer(GOOD, {stop_reason = "max_tokens"})})
      llm.http = t
      local res, err = llm.complete(cfg, request(), {no_cache = true})
      assert.is_nil(res)
      assert.equal(2, #t.sent)
      assert.equal(1500, cjson.decode(t.sent[2].body).max_tokens)
      assert.matches("truncated at max_tokens=1500", err, 1, true)
      assert.matches("already raised once from max_tokens=1000", err, 1, true)
    end)
  end)
  it("does not ask again when max_tokens is already the model's limit", function()
    with_key(function()
      local cfg = make_cfg({model = "claude-limited"})
      cfg.models = {["claude-limited"] = {max_output_tokens = 1000}}
      local t = fake_transport({anthropic_answer(GOOD, {stop_reason = "max_tokens"})})
      llm.http = t
      local _, err = llm.complete(cfg, request(), {no_cache = true})
      assert.equal(1, #t.sent)
      assert.matches("already the limit for model claude-limited", err, 1, true)
    end)
  end)
  it("keeps validation checks written as strings: rule names become rules, prose becomes notes", function()
    with_key(function()
      local seed = util.copy(GOOD)
      seed.validation_checks = {"non_empty", "Unique", "Revenue is never negative"}
      local t = fake_transport({anthropic_answer(seed)})
      llm.http = t
      local res = assert(llm.complete(make_cfg(), request(), {no_cache = true}))
      assert.equal(1, #t.sent) -- kept, not retried
      assert.same({{rule = "non_empty"}, {rule = "unique"},
                   {rule = "note", description = "Revenue is never negative"}}, res.output.validation_checks)
      assert.equal(412, res.usage.input_tokens)
    end)
  end)
  it("counts the tokens of a request that failed after its retry", function()
    with_key(function()
      local t = fake_transport({anthropic_answer({code = 1}), anthropic_answer({code = 2})})
      llm.http = t
      local out = llm.complete_many(make_cfg(), {request()}, {no_cache = true})
      assert.is_nil(out[1].res)
      assert.equal(824, out[1].usage.input_tokens)
      assert.equal(114, out[1].usage.output_tokens)
      assert.same({"req_test1", "req_test1"}, out[1].request_ids)
    end)
  end)
  it("continues a pause_turn by sending the paused content back, never taking it as the answer", function()
    with_key(function()
      local paused = {{type = "text", text = "Working on it."},
                      {type = "tool_use", id = "toolu_p", name = "emit_code", input = GOOD}}
      local t = fake_transport({anthropic_answer(GOOD, {stop_reason = "pause_turn", content = paused}),
                                anthropic_answer(GOOD)})
      llm.http = t
      local res = assert(llm.complete(make_cfg(), request(), {no_cache = true}))
      assert.equal(2, #t.sent)
      assert.equal(1, res.pause_continuations)
      local second = cjson.decode(t.sent[2].body)
      assert.equal(2, #second.messages)
      assert.equal("assistant", second.messages[2].role)
      assert.same(paused, second.messages[2].content)
    end)
  end)
  it("reports a turn that stays paused", function()
    with_key(function()
      local script = {}
      for i = 1, llm.MAX_PAUSE_CONTINUATIONS + 1 do
        script[i] = anthropic_answer(GOOD, {stop_reason = "pause_turn", content = {{type = "text", text = "..."}}})
      end
      local t = fake_transport(script)
      llm.http = t
      local res, err = llm.complete(make_cfg(), request(), {no_cache = true})
      assert.is_nil(res)
      assert.equal(llm.MAX_PAUSE_CONTINUATIONS + 1, #t.sent)
      assert.matches("paused its turn (pause_turn) 4 times without finishing the answer", err, 1, true)
    end)
  end)
  it("fails clearly without ANTHROPIC_API_KEY and sends nothing", function()
    local old = os.getenv("ANTHROPIC_API_KEY")
    sys.setenv("ANTHROPIC_API_KEY", nil)
    local t = fake_transport({})
    llm.http = t
    local res, err = llm.complete(make_cfg(), request(), {no_cache = true})
    llm.http = nil
    sys.setenv("ANTHROPIC_API_KEY", old)
    assert.is_nil(res)
    assert.equal(0, #t.sent)
    assert.matches("ANTHROPIC_API_KEY is not set", err, 1, true)
  end)
  it("answers complete_many in input order and calls on_done for each", function()
    with_key(function()
      local a, b = util.copy(GOOD), util.copy(GOOD)
      a.code, b.code = "result_df = read_table('a')", "result_df = read_table('b')"
      llm.http = fake_transport({anthropic_answer(a), anthropic_answer(b)})
      local done = {}
      local out = llm.complete_many(make_cfg(), {request("one"), request("two")}, {no_cache = true,
        on_done = function(i, res) done[#done + 1] = i; assert.truthy(res) end})
      assert.equal(a.code, out[1].res.output.code)
      assert.equal(b.code, out[2].res.output.code)
      assert.same({1, 2}, done)
    end)
  end)
end)

describe("llm.complete_many with more (a streaming batch)", function()
  it("retries each malformed input in the stream, however many wait for a slot", function()
    with_key(function()
      local bad = util.copy(GOOD)
      bad.estimated_complexity = "enormous"
      local script = {} -- each request's first answer is malformed, its retry good
      for k = 1, 6 do script[k] = anthropic_answer(k % 2 == 1 and bad or GOOD) end
      llm.http = fake_transport(script)
      local list, k, done = {request("one"), request("two"), request("three")}, 0, {}
      llm.complete_many(make_cfg(), {}, {no_cache = true,
        more = function() k = k + 1 return list[k] end,
        on_done = function(i, res, err) done[i] = res and res.attempts or err end})
      assert.same({2, 2, 2}, done)
    end)
  end)
end)

describe("the response cache", function()
  local has_cache = type(require("sparkgen.cache").open) == "function"
  local function cached_it(name, fn)
    if has_cache then it(name, fn) else pending(name .. " (sparkgen.cache not built yet)") end
  end
  cached_it("answers the second identical request without HTTP", function()
    with_key(function()
      local cfg = make_cfg()
      local t = fake_transport({anthropic_answer(GOOD)})
      llm.http = t
      local first = assert(llm.complete(cfg, request(), {}))
      local second = assert(llm.complete(cfg, request(), {}))
      assert.equal(1, #t.sent)
      assert.is_false(first.cached)
      assert.is_true(second.cached)
      assert.equal(GOOD.code, second.output.code)
      assert.equal(0, second.usage.input_tokens)
      assert.equal(412, second.original_usage.input_tokens)
      assert.same({"req_test1"}, second.request_ids)
    end)
  end)
  cached_it("is bypassed by no_cache", function()
    with_key(function()
      local cfg = make_cfg()
      local t = fake_transport({anthropic_answer(GOOD), anthropic_answer(GOOD)})
      llm.http = t
      assert(llm.complete(cfg, request(), {}))
      local again = assert(llm.complete(cfg, request(), {no_cache = true}))
      assert.equal(2, #t.sent)
      assert.is_false(again.cached)
    end)
  end)
  cached_it("never stores the API key", function()
    with_key(function()
      local cfg = make_cfg()
      llm.http = fake_transport({anthropic_answer(GOOD)})
      assert(llm.complete(cfg, request(), {}))
      assert.is_true(#(sys.listdir(cfg.cache.dir) or {}) > 0)
      assert.is_false(grep_dir(cfg.cache.dir, FAKE_KEY))
    end)
  end)
  it("keys on the prompt and model, never on the key", function()
    local cfg = make_cfg()
    local k = llm.cache_key(cfg, request())
    assert.matches("^%x+$", k)
    assert.equal(64, #k)
    assert.are_not.equal(k, llm.cache_key(cfg, request("count customers")))
    local other = make_cfg({model = "claude-other"})
    assert.are_not.equal(k, llm.cache_key(other, request()))
    assert.is_nil(util.json_encode(llm.canonical(cfg, request())):find(FAKE_KEY, 1, true))
  end)
end)

describe("record and replay", function()
  it("replays a recorded answer with no network and no key", function()
    local dir = fresh_dir("rec")
    with_key(function()
      llm.http = fake_transport({anthropic_answer(GOOD)})
      assert(llm.complete(make_cfg(), request(), {no_cache = true, record_dir = dir}))
    end)
    assert.is_false(grep_dir(dir, FAKE_KEY))
    local old = os.getenv("ANTHROPIC_API_KEY")
    sys.setenv("ANTHROPIC_API_KEY", nil)
    local t = fake_transport({})
    llm.http = t
    local res, err = llm.complete(make_cfg(), request(), {replay_dir = dir})
    llm.http = nil
    sys.setenv("ANTHROPIC_API_KEY", old)
    assert.is_nil(err)
    assert.equal(0, #t.sent)
    assert.equal(GOOD.code, res.output.code)
    assert.is_true(res.replayed)
  end)
  it("replays a recording made against another base URL and transport settings", function()
    local dir = fresh_dir("rec")
    with_key(function()
      llm.http = fake_transport({anthropic_answer(GOOD)})
      local cfg = make_cfg()
      cfg.anthropic.base_url = "https://proxy.example.com/anthropic"
      assert(llm.complete(cfg, request(), {no_cache = true, record_dir = dir}))
    end)
    local cfg = make_cfg()
    cfg.anthropic.base_url = "http://127.0.0.1:9"
    cfg.http.timeout_s, cfg.http.retries = 5, 0
    local t = fake_transport({})
    llm.http = t
    local res, err = llm.complete(cfg, request(), {replay_dir = dir})
    llm.http = nil
    assert.is_nil(err)
    assert.equal(0, #t.sent)
    assert.equal(GOOD.code, res.output.code)
  end)
  it("fails a missing recording naming the key and the request", function()
    local dir = fresh_dir("rec")
    local t = fake_transport({})
    llm.http = t
    local cfg = make_cfg()
    local res, err = llm.complete(cfg, request("weekly churn by region"), {replay_dir = dir})
    llm.http = nil
    assert.is_nil(res)
    assert.equal(0, #t.sent)
    assert.matches(llm.cache_key(cfg, request("weekly churn by region")), err, 1, true)
    assert.matches("weekly churn by region", err, 1, true)
  end)
end)

describe("against the mock", function()
  local log = require "sparkgen.log"
  local mock = dofile((os.getenv("SPARKGEN_HOME") or ".") .. "/tests/lib/cli.lua").with_mock{
    api_key = FAKE_KEY, cache_min_tokens = 1}

  local function mock_cfg()
    local cfg = make_cfg()
    cfg.anthropic.base_url = mock.url
    cfg.openai.base_url = mock.url
    cfg.http.retries = 0
    return cfg
  end
  local function complete(cfg, req, opts)
    local res, err
    with_key(function() res, err = llm.complete(cfg, req, opts or {no_cache = true}) end)
    return res, err
  end

  it("sends a request the API accepts and returns the tool input with its request id", function()
    local res = assert(complete(mock_cfg(), request()))
    assert.equal("low", res.output.estimated_complexity)
    assert.matches("^req_", res.request_ids[1])
    local seen = mock.requests()
    assert.equal(1, #seen)
    assert.equal("/v1/messages", seen[1].path)
    assert.is_true(seen[1].api_key_present)
    assert.same({type = "ephemeral"}, seen[1].body.messages[1].content[1].cache_control)
  end)
  it("reads the schema block from the prompt cache on the second request", function()
    local cfg = mock_cfg()
    local first = assert(complete(cfg, request("one")))
    local second = assert(complete(cfg, request("two")))
    assert.is_true(first.usage.cache_creation_input_tokens > 0)
    assert.is_true(second.usage.cache_read_input_tokens > 0)
  end)
  it("skips a content block it does not know", function()
    mock.script{{unknown_block = true}}
    assert.truthy(complete(mock_cfg(), request()))
  end)
  it("asks an answer truncated at max_tokens again with more room, then takes it", function()
    mock.script{{stop_reason = "max_tokens"}}
    local res = assert(complete(mock_cfg(), request()))
    local seen = mock.requests()
    assert.equal(2, #seen)
    assert.equal(2000, seen[2].body.max_tokens)
    assert.same({from = 1000, to = 2000}, res.max_tokens_raised)
  end)
  it("rejects an answer truncated twice at max_tokens", function()
    mock.script{{stop_reason = "max_tokens"}, {stop_reason = "max_tokens"}}
    local res, err = complete(mock_cfg(), request())
    assert.is_nil(res)
    assert.matches("^anthropic: answer truncated at max_tokens=2000 %(request%-id req_", err)
  end)
  it("sends a strict tool the API accepts for a capable model", function()
    local cfg = mock_cfg()
    cfg.model = "claude-sonnet-4-5"
    local req = request()
    req.tool = prompt.tool(require("sparkgen.checks").list())
    assert(complete(cfg, req))
    assert.is_true(mock.requests()[1].body.tools[1].strict)
  end)
  describe("streamed (anthropic.stream = true)", function()
    local function stream_cfg()
      local cfg = mock_cfg()
      cfg.anthropic.stream = true
      return cfg
    end
    local function same_parts(res)
      return {output = res.output, usage = res.usage, stop_reason = res.stop_reason, model = res.model}
    end
    it("assembles exactly the result the non-streamed call gives", function()
      local plain = assert(complete(mock_cfg(), request()))
      mock.reset()
      local streamed = assert(complete(stream_cfg(), request()))
      assert.is_true(mock.requests()[1].body.stream)
      assert.is_true(streamed.streamed)
      assert.same(same_parts(plain), same_parts(streamed))
    end)
    it("assembles text and thinking blocks around the tool call the same way", function()
      mock.script{{unknown_block = true}}
      local plain = assert(complete(mock_cfg(), request()))
      mock.reset()
      mock.script{{unknown_block = true}}
      assert.same(same_parts(plain), same_parts(assert(complete(stream_cfg(), request()))))
    end)
    it("reports an error event that arrives mid-stream, with the request id", function()
      mock.script{{stream_error = "overloaded_error"}}
      local res, err = complete(stream_cfg(), request())
      assert.is_nil(res)
      assert.matches("^anthropic: overloaded_error: mock stream error %(request%-id req_", err)
    end)
    it("is not cut off by the timeout while the answer keeps arriving", function()
      local cfg = stream_cfg()
      cfg.http.timeout_s = 0.5
      mock.script{{stream_delay_ms = 40}}
      local res = assert(complete(cfg, request()))
      assert.is_true(res.elapsed_s > 0.5, "the stream took " .. res.elapsed_s)
    end)
    it("asks a streamed max_tokens stop again with more room, as the plain call does", function()
      mock.script{{stop_reason = "max_tokens"}}
      local res = assert(complete(stream_cfg(), request()))
      assert.same({from = 1000, to = 2000}, res.max_tokens_raised)
    end)
  end)
  it("splits a round larger than one Message Batch may be into several", function()
    local batches = require "sparkgen.llm.batches"
    local cfg = mock_cfg()
    local old = batches.MAX_ITEMS
    batches.MAX_ITEMS = 2
    local state = batches.new_state({}, nil)
    local out
    with_key(function()
      out = llm.complete_many(cfg, {request("one"), request("two"), request("three")},
        {no_cache = true, via_batch = batches.transport(cfg, state, {poll_s = 0.01})})
    end)
    batches.MAX_ITEMS = old
    assert.equal(2, #state.batches)
    assert.same({2, 1}, {state.batches[1].requests, state.batches[2].requests})
    for i = 1, 3 do
      assert.truthy(out[i].res, out[i].err)
      assert.truthy(out[i].res.message_batch)
    end
  end)
  it("continues a paused turn with the paused content", function()
    mock.script{{stop_reason = "pause_turn"}}
    local res = assert(complete(mock_cfg(), request()))
    local seen = mock.requests()
    assert.equal(2, #seen)
    assert.equal("assistant", seen[2].body.messages[2].role)
    assert.equal(1, res.pause_continuations)
  end)
  it("reports a refusal", function()
    mock.script{{stop_reason = "refusal"}}
    local _, err = complete(mock_cfg(), request())
    assert.matches("the model refused: I can't help with that request.", err, 1, true)
  end)
  it("reports an answer without the tool call", function()
    mock.script{{text = "Sure, here is some code."}}
    local _, err = complete(mock_cfg(), request())
    assert.matches("no emit_code tool call (stop_reason end_turn)", err, 1, true)
  end)
  it("reports a prompt too long for the context window", function()
    mock.script{{stop_reason = "model_context_window_exceeded"}}
    local _, err = complete(mock_cfg(), request())
    assert.matches("does not fit the model's context window", err, 1, true)
  end)
  it("reports a server it cannot reach as one line", function()
    local cfg = mock_cfg()
    cfg.anthropic.base_url = "http://127.0.0.1:1"
    local res, err = complete(cfg, request())
    assert.is_nil(res)
    assert.matches("^anthropic: [^\n]+$", err)
  end)
  it("counts the attempts of an overloaded answer retried by the transport", function()
    mock.script{{status = 529, retry_after_ms = 10}}
    local cfg = mock_cfg()
    cfg.http.retries = 1
    local res = assert(complete(cfg, request()))
    assert.equal(2, res.attempts)
    assert.equal(1, #res.request_ids)
  end)
  it("reports a body that is not JSON", function()
    mock.script{{invalid_json = true}}
    local _, err = complete(mock_cfg(), request())
    assert.matches("^anthropic: the response is not valid JSON %(request%-id req_", err)
  end)
  it("reports an error envelope as one line with its type and request id", function()
    mock.script{{status = 529, message = "Overloaded"}}
    local _, err = complete(mock_cfg(), request())
    assert.matches("^anthropic: overloaded_error: Overloaded %(request%-id req_[%w]+%)$", err)
  end)
  it("says a wrong key was rejected without printing either key", function()
    local cfg = mock_cfg()
    local res, err
    local old = os.getenv("ANTHROPIC_API_KEY")
    sys.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-key-XYZ")
    res, err = llm.complete(cfg, request(), {no_cache = true})
    sys.setenv("ANTHROPIC_API_KEY", old)
    assert.is_nil(res)
    assert.matches("the API key was rejected", err, 1, true)
    assert.not_matches("wrong-key", err, 1, true)
    assert.not_matches(FAKE_KEY, err, 1, true)
  end)
  it("retries a tool input that is not an object once, then succeeds", function()
    mock.script{{tool_input_raw = "not an object"}}
    local res = assert(complete(mock_cfg(), request()))
    assert.equal(2, res.attempts)
    local seen = mock.requests()
    assert.equal(2, #seen)
    local retry = seen[2].body.messages
    assert.equal("tool_result", retry[3].content[1].type)
    assert.matches("input must be an object", retry[3].content[1].content, 1, true)
  end)
  it("reports a tool input still malformed after the retry", function()
    mock.script{{tool_input_raw = "nope"}, {reply = {code = "x"}}}
    local res, err = complete(mock_cfg(), request())
    assert.is_nil(res)
    assert.matches("malformed after a retry: input.description is missing", err, 1, true)
    assert.equal(2, #mock.requests())
  end)
  it("serves the second identical request from the response cache with no HTTP traffic", function()
    if type(require("sparkgen.cache").open) ~= "function" then
      pending("sparkgen.cache not built yet")
      return
    end
    local cfg = mock_cfg()
    assert.is_false(assert(complete(cfg, request(), {})).cached)
    local before = #mock.requests()
    local again = assert(complete(cfg, request(), {}))
    assert.is_true(again.cached)
    assert.equal(before, #mock.requests())
    assert.is_false(grep_dir(cfg.cache.dir, FAKE_KEY))
  end)
  it("keeps the key out of the logs", function()
    local path = fresh_dir("log") .. "/log.jsonl"
    local sink = assert(io.open(path, "w"))
    log.configure{level = "debug", format = "json", sink = sink}
    mock.script{{tool_input_raw = "bad"}}
    local ok = complete(mock_cfg(), request())
    log.configure{level = "warn", sink = io.stderr}
    sink:close()
    assert.truthy(ok)
    local text = util.read_file(path)
    assert.matches("llm.retry", text, 1, true)
    assert.is_nil(text:find(FAKE_KEY, 1, true))
  end)
  it("runs many requests in parallel, answers in input order", function()
    local cfg = mock_cfg()
    mock.script{{reply = util.copy(GOOD)}}
    local out
    with_key(function()
      out = llm.complete_many(cfg, {request("a"), request("b"), request("c")}, {no_cache = true, concurrency = 3})
    end)
    assert.equal(3, #out)
    for i = 1, 3 do assert.truthy(out[i].res, out[i].err) end
    assert.equal(3, #mock.requests())
  end)

  describe("as an OpenAI-compatible server", function()
    local function ocfg()
      local cfg = mock_cfg()
      cfg.provider = "openai"
      cfg.openai.api_key_env = "SPARKGEN_TEST_OPENAI_KEY"
      return cfg
    end
    it("answers through the function tool", function()
      sys.setenv("SPARKGEN_TEST_OPENAI_KEY", FAKE_KEY)
      local res = assert(llm.complete(ocfg(), request(), {no_cache = true}))
      sys.setenv("SPARKGEN_TEST_OPENAI_KEY", nil)
      assert.equal("openai", res.provider)
      assert.equal("low", res.output.estimated_complexity)
      assert.is_true(mock.requests()[1].authorization_present)
    end)
    it("retries arguments that are not JSON with a tool message", function()
      sys.setenv("SPARKGEN_TEST_OPENAI_KEY", FAKE_KEY)
      mock.script{{tool_input_raw = "{\"code\": "}}
      local res = assert(llm.complete(ocfg(), request(), {no_cache = true}))
      sys.setenv("SPARKGEN_TEST_OPENAI_KEY", nil)
      assert.equal(2, res.attempts)
      local msgs = mock.requests()[2].body.messages
      assert.equal("tool", msgs[#msgs].role)
      assert.equal("assistant", msgs[#msgs - 1].role)
    end)
  end)
end)

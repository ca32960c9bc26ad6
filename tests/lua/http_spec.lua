-- http_spec.lua — sparkgen.http against the Anthropic mock server: answers, ordering,
-- concurrency, retries as the policy given as data says (the SDKs' policy from
-- llm/common.lua, and others), streaming callbacks and silence limits. Retries use a
-- tiny backoff_scale so the whole file runs in a few seconds.
local http = require "sparkgen.http"
local cjson = require "cjson.safe"
local sys = require "sparkgen.sys"
local cli = dofile((os.getenv("SPARKGEN_HOME") or ".") .. "/tests/lib/cli.lua")
local POLICY = require("sparkgen.llm.common").SDK_RETRY_POLICY

local HEADERS = {["x-api-key"] = "sk-test-secret", ["anthropic-version"] = "2023-06-01",
                 ["content-type"] = "application/json"}
local BODY = cjson.encode{
  model = "claude-sonnet-4-5", max_tokens = 100,
  messages = {{role = "user", content = "monthly revenue"}},
  tools = {{name = "emit_code", input_schema = {type = "object"}}},
  tool_choice = {type = "tool", name = "emit_code"},
}

describe("sparkgen.http", function()
  local mock = cli.with_mock()

  local function req(extra)
    local r = {method = "POST", url = mock.url .. "/v1/messages", headers = HEADERS,
               body = BODY, backoff_scale = 0.01, retry_policy = POLICY}
    for k, v in pairs(extra or {}) do r[k] = v end
    return r
  end

  describe("request", function()
    it("returns status, body, attempts and elapsed time of a successful call", function()
      local a = http.request(req())
      assert.equal(200, a.status)
      assert.is_nil(a.error)
      assert.equal(1, a.attempts)
      assert.is_true(a.elapsed_s > 0 and a.elapsed_s < 5)
      local msg = assert(cjson.decode(a.body))
      assert.equal("tool_use", msg.content[1].type)
      assert.equal("emit_code", msg.content[1].name)
    end)

    it("returns response headers with lowercased names, request-id included", function()
      local a = http.request(req())
      assert.matches("^req_", a.headers["request-id"])
      assert.equal("application/json", a.headers["content-type"])
      for name in pairs(a.headers) do assert.equal(name:lower(), name) end
    end)

    it("sends the caller's method, headers and body", function()
      http.request(req())
      local seen = mock.requests()[1]
      assert.equal("POST", seen.method)
      assert.equal("2023-06-01", seen.headers["anthropic-version"])
      assert.is_true(seen.api_key_present)
      assert.equal("claude-sonnet-4-5", seen.body.model)
    end)

    it("reuses one keep-alive connection across calls", function()
      http.request(req())
      http.request(req())
      local log = mock.requests()
      assert.equal(log[1].client_port, log[2].client_port)
    end)

    it("does GET requests without a body", function()
      local a = http.request{url = mock.url .. "/__mock/requests"}
      assert.equal(200, a.status)
      assert.equal("table", type(cjson.decode(a.body)))
    end)

    it("raises for a request without a url", function()
      assert.has_error(function() http.request{method = "POST"} end)
    end)

    it("raises for a header value with a line break without echoing the value", function()
      local ok, err = pcall(http.request, {url = mock.url .. "/v1/messages",
                                           headers = {["x-api-key"] = "sk-hidden\r\nX: y"}})
      assert.is_false(ok)
      assert.not_matches("sk%-hidden", tostring(err))
    end)

    it("refuses a response larger than max_response_bytes, without retrying", function()
      local a = http.request(req{max_response_bytes = 100})
      assert.matches("larger than 100 bytes", a.error)
      assert.equal(1, a.attempts)
    end)
  end)

  describe("retries", function()
    for _, status in ipairs{408, 409, 429, 500, 503, 529} do
      it("retries HTTP " .. status .. " and then succeeds", function()
        mock.script{{status = status}}
        local a = http.request(req())
        assert.equal(200, a.status)
        assert.equal(2, a.attempts)
      end)
    end

    it("retries a connection reset and then succeeds", function()
      mock.script{{reset = true}, {reset = true}}
      local a = http.request(req{retries = 5})
      assert.equal(200, a.status)
      assert.is_nil(a.error)
      assert.is_true(a.attempts >= 2)
    end)

    it("retries a truncated body and then succeeds", function()
      mock.script{{truncated = true}}
      local a = http.request(req())
      assert.equal(200, a.status)
      assert.is_nil(a.error)
      assert.equal(2, a.attempts)
    end)

    it("reports a truncated body as an error when no retry is left", function()
      mock.script{{truncated = true}}
      local a = http.request(req{retries = 0})
      assert.is_string(a.error)
    end)

    it("does not retry 400 and returns the error envelope", function()
      mock.script{{status = 400, message = "bad field"}}
      local a = http.request(req())
      assert.equal(400, a.status)
      assert.equal(1, a.attempts)
      local e = cjson.decode(a.body)
      assert.equal("error", e.type)
      assert.equal("invalid_request_error", e.error.type)
      assert.equal(a.headers["request-id"], e.request_id)
    end)

    it("does not retry 401", function()
      mock.script{{status = 401}}
      local a = http.request(req())
      assert.equal(401, a.status)
      assert.equal(1, a.attempts)
    end)

    it("does not retry when the server says x-should-retry: false", function()
      mock.script{{status = 529, headers = {["x-should-retry"] = "false"}}}
      local a = http.request(req())
      assert.equal(529, a.status)
      assert.equal(1, a.attempts)
    end)

    it("retries a 400 when the server says x-should-retry: true", function()
      mock.script{{status = 400, headers = {["x-should-retry"] = "true"}}}
      local a = http.request(req())
      assert.equal(200, a.status)
      assert.equal(2, a.attempts)
    end)

    it("gives up after `retries` retries and returns the last status", function()
      mock.script{{status = 529}, {status = 529}, {status = 529}}
      local a = http.request(req{retries = 2})
      assert.equal(529, a.status)
      assert.is_nil(a.error)
      assert.equal(3, a.attempts)
    end)

    it("makes one attempt with retries = 0", function()
      mock.script{{status = 500}}
      local a = http.request(req{retries = 0})
      assert.equal(500, a.status)
      assert.equal(1, a.attempts)
    end)

    it("honours retry-after in seconds", function()
      mock.script{{status = 429, retry_after = 1}}
      local a = http.request(req())
      assert.equal(200, a.status)
      assert.is_true(a.elapsed_s >= 0.95, "waited only " .. a.elapsed_s)
    end)

    it("honours retry-after given as an HTTP date", function()
      local when = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 2)
      mock.script{{status = 503, headers = {["retry-after"] = when}}}
      local a = http.request(req())
      assert.equal(200, a.status)
      assert.is_true(a.elapsed_s >= 0.9 and a.elapsed_s < 3, "waited " .. a.elapsed_s)
    end)

    it("honours retry-after-ms before retry-after", function()
      mock.script{{status = 429, retry_after_ms = 300, retry_after = 5}}
      local a = http.request(req())
      assert.equal(200, a.status)
      assert.is_true(a.elapsed_s >= 0.28 and a.elapsed_s < 2, "waited " .. a.elapsed_s)
    end)

    it("ignores a retry-after beyond 60 s and backs off instead", function()
      mock.script{{status = 429, retry_after = 120}}
      local a = http.request(req())
      assert.equal(200, a.status)
      assert.is_true(a.elapsed_s < 0.5, "waited " .. a.elapsed_s)
    end)

    it("backs off exponentially with jitter when the server gives no delay", function()
      mock.script{{status = 500}, {status = 500}}
      -- 0.5 s and 1 s, each jittered by up to -25 %, scaled by 0.2: 0.225 .. 0.3 s
      local a = http.request(req{backoff_scale = 0.2})
      assert.equal(3, a.attempts)
      assert.is_true(a.elapsed_s >= 0.22 and a.elapsed_s < 0.6, "waited " .. a.elapsed_s)
    end)

    it("reports connection resets as an error after all retries", function()
      local steps = {}
      for i = 1, 12 do steps[i] = {reset = true} end
      mock.script(steps)
      local a = http.request(req{retries = 2})
      assert.is_nil(a.status)
      assert.is_string(a.error)
      assert.equal(3, a.attempts)
    end)

    it("reports a timeout as an error after all retries", function()
      mock.script{{sleep_s = 1}, {sleep_s = 1}}
      local a = http.request(req{timeout_s = 0.2, retries = 1})
      assert.is_nil(a.status)
      assert.matches("[Tt]imed out", a.error)
      assert.equal(2, a.attempts)
      assert.is_true(a.elapsed_s >= 0.4 and a.elapsed_s < 1, "took " .. a.elapsed_s)
    end)

    it("reports a refused connection as an error after all retries", function()
      local a = http.request{url = "http://127.0.0.1:1/v1/messages", retries = 2,
                             backoff_scale = 0.01, retry_policy = POLICY}
      assert.is_nil(a.status)
      assert.is_string(a.error)
      assert.equal(3, a.attempts)
    end)
  end)

  describe("a retry policy given as data", function()
    it("retries nothing without a policy", function()
      mock.script{{status = 529}, {reset = true}}
      assert.equal(1, http.request(req{retry_policy = false}).attempts)
      assert.equal(1, http.request(req{retry_policy = false}).attempts)
    end)
    it("retries the statuses another provider names, and not the SDK's", function()
      local other = {statuses = {418}, override_header = "x-retry-hint"}
      mock.script{{status = 418}, {status = 429}}
      local a = http.request(req{retry_policy = other})
      assert.equal(429, a.status) -- 418 retried, 429 not
      assert.equal(2, a.attempts)
    end)
    it("reads its override header and delay header by the names it gives", function()
      local other = {statuses = {}, override_header = "X-Retry-Hint",
                     delay_headers = {{"x-wait-ms", "ms"}}}
      mock.script{{status = 400, headers = {["x-retry-hint"] = "true", ["x-wait-ms"] = "300"}}}
      local a = http.request(req{retry_policy = other})
      assert.equal(200, a.status)
      assert.is_true(a.elapsed_s >= 0.28 and a.elapsed_s < 2, "waited " .. a.elapsed_s)
    end)
    it("backs off by its own numbers", function()
      mock.script{{status = 500}}
      local a = http.request(req{backoff_scale = 1, retry_policy = {status_min = 500,
        backoff = {initial_s = 0.3, multiplier = 2, max_s = 1, jitter = 0}}})
      assert.equal(2, a.attempts)
      assert.is_true(a.elapsed_s >= 0.29 and a.elapsed_s < 1, "waited " .. a.elapsed_s)
    end)
    it("leaves connection errors alone unless the policy retries them", function()
      local a = http.request{url = "http://127.0.0.1:1/v1/messages", retries = 2, backoff_scale = 0.01,
                             retry_policy = {status_min = 500}}
      assert.equal(1, a.attempts)
      assert.is_string(a.error)
    end)
    it("raises for a malformed policy, naming the field", function()
      assert.has_error(function() http.request(req{retry_policy = {statuses = {"x"}}}) end,
        "request 1: retry_policy.statuses[1] must be an HTTP status")
      assert.has_error(function() http.request(req{retry_policy = {delay_headers = {{"a", "minutes"}}}}) end,
        [[request 1: retry_policy.delay_headers[1]: unit must be "ms" or "s"]])
    end)
  end)

  describe("streaming", function()
    local function stream_req(extra)
      local body = cjson.decode(BODY)
      body.stream = true
      local r = req{body = cjson.encode(body)}
      for k, v in pairs(extra or {}) do r[k] = v end
      return r
    end
    it("hands every piece of the body to on_chunk as it arrives, with status and attempt", function()
      local pieces, statuses = {}, {}
      local a = http.request(stream_req{on_chunk = function(data, status, attempt)
        pieces[#pieces + 1] = data
        statuses[status .. "/" .. attempt] = true
      end})
      assert.equal(200, a.status)
      assert.is_true(#pieces >= 1)
      assert.equal(a.body, table.concat(pieces))
      assert.same({["200/1"] = true}, statuses)
    end)
    it("ends the transfer with one error, never retried, when on_chunk raises", function()
      local a = http.request(stream_req{on_chunk = function() error("parser broke", 0) end})
      assert.equal("stream callback failed: parser broke", a.error)
      assert.equal(1, a.attempts)
    end)
    it("lets a slow stream run past the total timeout when a silence limit replaces it", function()
      mock.script{{stream_delay_ms = 150}}
      local a = http.request(stream_req{idle_timeout_s = 2, timeout_s = 0.5})
      assert.is_nil(a.error)
      assert.equal(200, a.status)
      assert.is_true(a.elapsed_s > 0.5, "the stream took " .. a.elapsed_s)
    end)
    it("still fails a stream that goes silent for longer than the limit", function()
      mock.script{{stream_stall_s = 3}}
      local a = http.request(stream_req{idle_timeout_s = 1, retries = 0})
      assert.matches("no data received for 1.0 s (idle timeout)", a.error, 1, true)
    end)
  end)

  describe("request_many", function()
    local function numbered(n)
      local list = {}
      for i = 1, n do
        local body = cjson.decode(BODY)
        body.model = "model-" .. i
        list[i] = req{body = cjson.encode(body)}
      end
      return list
    end

    it("returns the answers in input order and calls on_done once for each", function()
      local steps = {}
      for i = 1, 6 do steps[i] = {latency_ms = (6 - i) * 30} end
      mock.script(steps)
      local seen = {}
      local answers = http.request_many(numbered(6), {concurrency = 6, on_done = function(i, a)
        assert.is_nil(seen[i])
        seen[i] = a
      end})
      assert.equal(6, #answers)
      for i = 1, 6 do
        assert.equal("model-" .. i, cjson.decode(answers[i].body).model)
        assert.equal(answers[i], seen[i])
      end
    end)

    it("keeps at most `concurrency` requests in flight", function()
      local steps = {}
      for i = 1, 8 do steps[i] = {latency_ms = 100} end
      mock.script(steps)
      local t0 = sys.monotonic()
      http.request_many(numbered(8), {concurrency = 2})
      local took = sys.monotonic() - t0
      assert.is_true(took >= 0.39 and took < 0.75, "took " .. took)
    end)

    it("runs requests in parallel up to the bound", function()
      local steps = {}
      for i = 1, 8 do steps[i] = {latency_ms = 200} end
      mock.script(steps)
      local t0 = sys.monotonic()
      http.request_many(numbered(8), {concurrency = 8})
      local took = sys.monotonic() - t0
      assert.is_true(took < 0.39, "took " .. took)
    end)

    it("does not hold a slot while a request waits for its retry", function()
      mock.script{{status = 429, retry_after_ms = 500}}
      local finished = {}
      local t0 = sys.monotonic()
      local answers = http.request_many(numbered(3), {concurrency = 1, on_done = function(i)
        finished[i] = sys.monotonic() - t0
      end})
      assert.equal(2, answers[1].attempts)
      assert.is_true(finished[1] >= 0.48)
      assert.is_true(finished[2] < 0.3 and finished[3] < 0.3, ("finished %.3f %.3f %.3f"):format(finished[1], finished[2], finished[3]))
    end)

    it("returns an empty list for no requests", function()
      assert.same({}, http.request_many({}))
    end)

    it("propagates an error raised by on_done and stays usable", function()
      assert.has_error(function()
        http.request_many(numbered(3), {on_done = function() error("stop here") end})
      end, nil)
      assert.equal(200, http.request(req()).status)
    end)

    it("keeps the traceback of an error raised by on_done", function()
      local function failing_callback() error("broken callback") end
      local ok, err = pcall(http.request_many, numbered(2), {on_done = failing_callback})
      assert.is_false(ok)
      assert.matches("http_spec%.lua:%d+: broken callback", err)
      assert.matches("stack traceback:", err)
      assert.matches("http_spec%.lua:%d+: in function <[^>]*http_spec%.lua:%d+>", err)
    end)

    describe("with more (streaming)", function()
      local function feeder(list)
        local k = 0
        return function()
          k = k + 1
          return list[k]
        end
      end

      it("asks more() for each request as a slot frees and gives every answer to on_done", function()
        local models = {}
        local answers = http.request_many({}, {concurrency = 2, more = feeder(numbered(5)), on_done = function(i, a)
          models[i] = cjson.decode(a.body).model
        end})
        assert.same({}, answers) -- nothing kept
        assert.same({"model-1", "model-2", "model-3", "model-4", "model-5"}, models)
      end)

      it("sends a freed slot's next request before on_done runs for the answer", function()
        local events = {}
        local list, k = numbered(2), 0
        http.request_many({}, {concurrency = 1,
          more = function()
            k = k + 1
            events[#events + 1] = list[k] and ("more " .. k) or "more: none"
            return list[k]
          end,
          on_done = function(i) events[#events + 1] = "done " .. i end})
        assert.same({"more 1", "more 2", "done 1", "more: none", "done 2", "more: none"}, events)
      end)

      it("asks again after on_done when more() had nothing for now", function()
        local queued, sent = {}, 0
        local list = numbered(3)
        http.request_many({list[1]}, {concurrency = 4,
          more = function() return table.remove(queued, 1) end,
          on_done = function(i)
            sent = sent + 1
            if i == 1 then queued[1] = list[2] elseif i == 2 then queued[1] = list[3] end
          end})
        assert.equal(3, sent)
        assert.equal(3, #mock.requests())
      end)

      it("stops the batch on an error raised by more() and stays usable", function()
        local ok, err = pcall(http.request_many, numbered(1), {more = function() error("no more here", 0) end,
          on_done = function() end})
        assert.is_false(ok)
        assert.matches("no more here", err)
        assert.equal(200, http.request(req()).status)
      end)

      it("names the bad request more() gave", function()
        local ok, err = pcall(http.request_many, numbered(1), {more = feeder({{url = "ftp://x"}}),
          on_done = function() end})
        assert.is_false(ok)
        assert.matches("request 2: url must start with http:// or https://", err, 1, true)
      end)

      it("needs on_done", function()
        assert.has_error(function() http.request_many({}, {more = function() end}) end)
      end)
    end)

    it("refuses to start a request from inside on_done", function()
      local ok, err
      http.request_many(numbered(1), {on_done = function()
        ok, err = pcall(http.request, req())
      end})
      assert.is_false(ok)
      assert.matches("on_done", err)
    end)
  end)

  -- The mock is the stand-in for the real API in every spec: pin the protocol it speaks.
  describe("the mock server", function()
    local function post(path, body, headers)
      return http.request{method = "POST", url = mock.url .. path, headers = headers or HEADERS,
                          body = type(body) == "table" and cjson.encode(body) or body, retries = 0}
    end
    local function envelope(a)
      local e = cjson.decode(a.body)
      assert.equal("error", e.type)
      assert.equal(a.headers["request-id"], e.request_id)
      return e.error
    end

    local function get(path, headers)
      return http.request{method = "GET", url = mock.url .. path, headers = headers or HEADERS, retries = 0}
    end
    local PARAMS = cjson.decode(BODY)

    it("runs a Message Batch: in_progress, then ended with per-item results in any order", function()
      mock.script{{}, {batch_result = "errored", status = 529}, {batch_result = "expired"}}
      local a = post("/v1/messages/batches", {requests = {{custom_id = "a", params = PARAMS},
        {custom_id = "b", params = PARAMS}, {custom_id = "c", params = PARAMS}}})
      assert.equal(200, a.status)
      local b = cjson.decode(a.body)
      assert.matches("^msgbatch_", b.id)
      assert.equal("message_batch", b.type)
      assert.equal("in_progress", b.processing_status)
      assert.equal(3, b.request_counts.processing)
      assert.equal(cjson.null, b.results_url)
      assert.equal(400, get("/v1/messages/batches/" .. b.id .. "/results").status) -- not yet
      assert.equal("in_progress", cjson.decode(get("/v1/messages/batches/" .. b.id).body).processing_status)
      local ended = cjson.decode(get("/v1/messages/batches/" .. b.id).body)
      assert.equal("ended", ended.processing_status)
      assert.same({processing = 0, succeeded = 1, errored = 1, canceled = 0, expired = 1}, ended.request_counts)
      local r = http.request{method = "GET", url = ended.results_url, headers = HEADERS, retries = 0}
      local lines = {}
      for line in r.body:gmatch("[^\n]+") do lines[#lines + 1] = cjson.decode(line) end
      assert.same({"c", "b", "a"}, {lines[1].custom_id, lines[2].custom_id, lines[3].custom_id})
      assert.equal("succeeded", lines[3].result.type)
      assert.equal("tool_use", lines[3].result.message.content[1].type)
      assert.same({type = "errored", error = {type = "error", error = {type = "overloaded_error",
        message = "mock batch item error 529"}}}, lines[2].result)
      assert.same({type = "expired"}, lines[1].result)
    end)
    it("rejects a batch with a bad or repeated custom_id, or an invalid item", function()
      local a = post("/v1/messages/batches", {requests = {{custom_id = "a b", params = PARAMS}}})
      assert.equal(400, a.status)
      assert.matches("custom_id", envelope(a).message)
      a = post("/v1/messages/batches", {requests = {{custom_id = "a", params = PARAMS}, {custom_id = "a", params = PARAMS}}})
      assert.matches("duplicate custom_id", envelope(a).message)
      a = post("/v1/messages/batches", {requests = {{custom_id = "a", params = {model = "m"}}}})
      assert.equal("requests.0.params.max_tokens: Field required", envelope(a).message)
      assert.equal(404, get("/v1/messages/batches/msgbatch_unknown").status)
    end)
    it("lists the models and gives one model's limits", function()
      local list = cjson.decode(get("/v1/models").body)
      assert.is_false(list.has_more)
      assert.equal("model", list.data[1].type)
      local m = cjson.decode(get("/v1/models/claude-sonnet-5").body)
      assert.equal(64000, m.max_tokens)
      assert.equal(404, get("/v1/models/claude-unknown").status)
      assert.equal(401, get("/v1/models", {["anthropic-version"] = "2023-06-01"}).status)
    end)
    it("checks a strict tool's schema against what strict mode accepts", function()
      local body = cjson.decode(BODY)
      body.tools[1].strict = true
      local a = post("/v1/messages", body)
      assert.equal(400, a.status)
      assert.equal("tools.0.input_schema: objects in strict mode must set additionalProperties to false", envelope(a).message)
      body.tools[1].input_schema = {type = "object", additionalProperties = false,
                                    properties = {code = {type = "string", minLength = 1}}}
      assert.equal("tools.0.input_schema.properties.code: 'minLength' is not supported in strict mode",
        envelope(post("/v1/messages", body)).message)
      body.tools[1].input_schema.properties.code.minLength = nil
      assert.equal(200, post("/v1/messages", body).status)
    end)

    it("rejects a request without x-api-key with the error envelope", function()
      local a = post("/v1/messages", BODY, {["anthropic-version"] = "2023-06-01",
                                            ["content-type"] = "application/json"})
      assert.equal(401, a.status)
      assert.equal("authentication_error", envelope(a).type)
    end)

    it("rejects a request without anthropic-version", function()
      local a = post("/v1/messages", BODY, {["x-api-key"] = "k", ["content-type"] = "application/json"})
      assert.equal(400, a.status)
      assert.matches("anthropic%-version", envelope(a).message)
    end)

    it("rejects unknown body fields and a forced tool that is not declared", function()
      local body = cjson.decode(BODY)
      body.colour = "blue"
      assert.matches("Extra inputs are not permitted", envelope(post("/v1/messages", body)).message)
      body.colour = nil
      body.tool_choice.name = "other_tool"
      assert.equal("invalid_request_error", envelope(post("/v1/messages", body)).type)
      body.tool_choice.name, body.max_tokens = "emit_code", nil
      assert.matches("max_tokens", envelope(post("/v1/messages", body)).message)
    end)

    it("streams the documented SSE event sequence", function()
      local body = cjson.decode(BODY)
      body.stream = true
      local a = post("/v1/messages", body)
      assert.equal(200, a.status)
      assert.matches("^text/event%-stream", a.headers["content-type"])
      local events, json = {}, {}
      for name, data in a.body:gmatch("event: ([%w_]+)\ndata: ([^\n]*)\n\n") do
        if events[#events] ~= name or name ~= "content_block_delta" then events[#events + 1] = name end
        local d = cjson.decode(data)
        if d.delta and d.delta.partial_json then json[#json + 1] = d.delta.partial_json end
      end
      assert.same({"message_start", "ping", "content_block_start", "content_block_delta",
                   "content_block_stop", "message_delta", "message_stop"}, events)
      assert.matches("result_df", cjson.decode(table.concat(json)).code)
    end)

    it("reports a cache read when a marked prefix is sent again", function()
      local body = cjson.decode(BODY)
      body.system = {{type = "text", text = ("schema "):rep(50), cache_control = {type = "ephemeral"}}}
      local first = cjson.decode(post("/v1/messages", body).body).usage
      local second = cjson.decode(post("/v1/messages", body).body).usage
      assert.is_true(first.cache_creation_input_tokens > 0)
      assert.equal(0, first.cache_read_input_tokens)
      assert.equal(first.cache_creation_input_tokens, second.cache_read_input_tokens)
    end)

    it("counts tokens", function()
      local a = post("/v1/messages/count_tokens", {model = "m", messages = {{role = "user", content = "hi"}}})
      assert.equal(200, a.status)
      local n = cjson.decode(a.body).input_tokens
      assert.is_true(n >= 1 and n == math.floor(n))
    end)

    it("answers the OpenAI-compatible endpoint with tool call arguments as a JSON string", function()
      local a = post("/v1/chat/completions", {model = "m", messages = {{role = "user", content = "hi"}},
        tools = {{type = "function", ["function"] = {name = "emit_code", parameters = {type = "object"}}}}},
        {["content-type"] = "application/json"})
      local call = cjson.decode(a.body).choices[1].message.tool_calls[1]
      assert.equal("emit_code", call["function"].name)
      assert.matches("result_df", cjson.decode(call["function"].arguments).code)
    end)

    it("sends the rate-limit headers", function()
      local a = http.request(req())
      assert.equal("4000", a.headers["anthropic-ratelimit-requests-limit"])
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT", a.headers["anthropic-ratelimit-tokens-reset"])
    end)

    it("can answer an error with a body that is not JSON, as a proxy does", function()
      mock.script{{status = 413, body = "<html>Request Entity Too Large</html>"}}
      local a = http.request(req())
      assert.equal(413, a.status)
      assert.is_nil(cjson.decode(a.body))
    end)

    it("never logs the API key, only that one was sent", function()
      http.request(req())
      local raw = http.request{url = mock.url .. "/__mock/requests"}.body
      assert.not_matches("sk%-test%-secret", raw)
      assert.is_true(cjson.decode(raw)[1].api_key_present)
    end)
  end)
end)

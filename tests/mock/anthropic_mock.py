#!/usr/bin/env python3
"""anthropic_mock.py — a scriptable stand-in for the Anthropic Messages API (and the
OpenAI-compatible chat endpoint) for sparkgen's tests and benchmark.

It speaks the protocol in ../../../shared/docs/anthropic-api.md (the real API cannot be
reached from the test machines): the same headers, request validation, error envelope
and `request-id` header on every response, non-streaming and SSE answers. Standard
library only.

    python3 tests/mock/anthropic_mock.py --port 0 [--latency-ms N] [--api-key KEY]
        [--cache-min-tokens N]

prints `PORT <n>` as its first stdout line and serves until killed.

Message Batches and Models endpoints live in mock_batches.py (same protocol rules).

Control API (never counted as API traffic, never consumes a step):
    POST /__mock/script    JSON list of steps, appended to the queue; each API request
                           takes the next step (an empty queue means the default reply)
    GET  /__mock/requests  every API request received (x-api-key / authorization values
                           masked; `api_key_present` tells whether one was sent)
    POST /__mock/reset     clears the queue, the request log, the prompt cache and batches
    POST /__mock/config    {"batch_polls": N}: a new Message Batch answers in_progress to
                           N retrievals, then ended (default 1)
Steps (any step may also carry "latency_ms": N and "headers": {name: value}):
    {"reply": {...}}            200, one tool_use block naming the forced tool
    {"text": "..."}             200, end_turn, text only (the tool was not used)
    {"status": 429, "retry_after": 1, "retry_after_ms": 250}   error envelope
    {"status": 413, "body": "<html>..."}   an error whose body is not JSON (a proxy's)
    {"reset": true}             drop the connection without answering
    {"sleep_s": N}              hang N seconds, then drop the connection
    {"truncated": true}         Content-Length larger than the body, then close
    {"invalid_json": true}      200 whose body is not JSON
    {"stop_reason": "max_tokens"}   truncated tool input; "refusal"; any other value
    {"tool_input_raw": "..."}   tool_use whose input is not an object
    {"unknown_block": true}     a `thinking` block before the answer (to be skipped)
    {"stream_error": "overloaded_error"}  (streaming) error event after message_start
    {"stream_delay_ms": N}      (streaming) wait N ms before each event (a slow answer)
    {"stream_stall_s": N}       (streaming) go silent N seconds after the first ping
    {"batch_result": "errored"|"expired"|"canceled", "status": 500}  (a Message Batch
                                item) that item's result instead of a message
"""
import argparse
import hashlib
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mock_batches

ANTHROPIC_VERSIONS = {"2023-06-01", "2023-01-01"}
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 408: "timeout_error", 409: "conflict_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    529: "overloaded_error",
}
STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn",
                "refusal", "model_context_window_exceeded"}
MESSAGES_FIELDS = {"model", "max_tokens", "messages", "system", "temperature", "top_p",
                   "top_k", "stop_sequences", "metadata", "stream", "tools", "tool_choice",
                   "thinking", "service_tier", "container", "mcp_servers"}
COUNT_FIELDS = {"model", "messages", "system", "tools", "tool_choice", "thinking"}
TOOL_FIELDS = {"type", "name", "description", "input_schema", "cache_control", "strict"}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")

DEFAULT_CODE = """orders = read_table("orders")

# total_amount is the order header's sum of its lines: no join to order_items needed,
# so no fan-out.
result_df = (
    orders
    .groupBy(F.date_trunc("month", F.col("order_date")).alias("month"))
    .agg(
        F.count("order_id").alias("orders"),
        F.sum("total_amount").alias("revenue"),
    )
    .select("month", "orders", "revenue")
    .orderBy("month")
)
"""

DEFAULT_REPLY = {
    "code": DEFAULT_CODE,
    "description": "Orders and revenue per month.",
    "tables_used": ["orders"],
    "estimated_complexity": "low",
    "validation_checks": [
        {"rule": "non_empty"},
        {"rule": "required_columns", "columns": ["month", "orders", "revenue"]},
    ],
}


class InvalidRequest(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class MockState:
    def __init__(self, latency_ms, api_key, cache_min_tokens):
        self.lock = threading.Lock()
        self.steps = deque()
        self.requests = []
        self.prefixes = set()
        self.latency_ms = latency_ms
        self.api_key = api_key
        self.cache_min_tokens = cache_min_tokens
        self.batches = {}      # Message Batches by id (mock_batches.py)
        self.batch_polls = 1   # retrievals a new batch answers in_progress before it ends

    def next_step(self):
        with self.lock:
            return self.steps.popleft() if self.steps else {}


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:24]


def tokens_of(value):
    """A rough token count (4 characters a token), enough for usage accounting."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, (len(text) + 3) // 4)


def rate_limit_headers(status):
    """The anthropic-ratelimit-* headers the API sends (reset times are RFC 3339)."""
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    headers = {}
    for kind, limit in (("requests", 4000), ("tokens", 400000), ("input-tokens", 400000),
                        ("output-tokens", 80000)):
        headers[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{kind}-remaining"] = "0" if status == 429 else str(limit - 1)
        headers[f"anthropic-ratelimit-{kind}-reset"] = reset
    return headers


# ---- request validation (the real API's rules, as far as the doc states them) ------

def check_cache_control(cc, where):
    if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
        raise InvalidRequest(f"{where}.cache_control: type must be 'ephemeral'")
    if "ttl" in cc and cc["ttl"] not in ("5m", "1h"):
        raise InvalidRequest(f"{where}.cache_control.ttl: must be '5m' or '1h'")
    extra = set(cc) - {"type", "ttl"}
    if extra:
        raise InvalidRequest(f"{where}.cache_control.{sorted(extra)[0]}: Extra inputs are not permitted")
    return 1


def check_block(block, where, role):
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise InvalidRequest(f"{where}: each content block must be an object with a type")
    kind = block["type"]
    markers = check_cache_control(block["cache_control"], where) if "cache_control" in block else 0
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise InvalidRequest(f"{where}.text: Field required")
    elif kind == "tool_use":
        if role != "assistant":
            raise InvalidRequest(f"{where}: tool_use blocks are only allowed in assistant messages")
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str) \
                or not isinstance(block.get("input"), dict):
            raise InvalidRequest(f"{where}: tool_use needs id, name and an object input")
    elif kind == "tool_result":
        if role != "user":
            raise InvalidRequest(f"{where}: tool_result blocks are only allowed in user messages")
        if not isinstance(block.get("tool_use_id"), str):
            raise InvalidRequest(f"{where}.tool_use_id: Field required")
    elif kind not in ("image", "document", "thinking", "redacted_thinking"):
        raise InvalidRequest(f"{where}.type: unknown content block type '{kind}'")
    return markers


def check_messages(body):
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: Field required" if messages is None
                             else "messages: must be a non-empty list")
    markers = 0
    for i, m in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: must be 'user' or 'assistant'")
        content = m.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise InvalidRequest(f"{where}.content: must be a string or a list of blocks")
        for j, block in enumerate(content):
            markers += check_block(block, f"{where}.content.{j}", m["role"])
    return markers


def check_system(system):
    if system is None or isinstance(system, str):
        return 0
    if not isinstance(system, list):
        raise InvalidRequest("system: must be a string or a list of text blocks")
    markers = 0
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" \
                or not isinstance(block.get("text"), str):
            raise InvalidRequest(f"system.{i}: must be a text block")
        if "cache_control" in block:
            markers += check_cache_control(block["cache_control"], f"system.{i}")
    return markers


# Strict tool use (tools[].strict = true) compiles the input_schema into a grammar, and
# only a subset of JSON Schema is accepted (Anthropic's structured-outputs "JSON Schema
# limitations"): every object closed with additionalProperties: false; no numeric
# ranges, string lengths or patterns; minItems only 0 or 1; enums of primitives.
STRICT_KEYWORDS = {"type", "properties", "required", "items", "enum", "const", "anyOf", "allOf",
                   "description", "title", "additionalProperties", "$ref", "$defs", "definitions",
                   "format", "default", "minItems"}
STRICT_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4",
                  "ipv6", "uuid"}


def check_strict_schema(schema, where):
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{where}: a schema must be an object")
    for key in sorted(schema):
        if key not in STRICT_KEYWORDS:
            raise InvalidRequest(f"{where}: '{key}' is not supported in strict mode")
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "object" in kinds:
        if schema.get("additionalProperties") is not False:
            raise InvalidRequest(f"{where}: objects in strict mode must set additionalProperties to false")
        for name, sub in (schema.get("properties") or {}).items():
            check_strict_schema(sub, f"{where}.properties.{name}")
    if "items" in schema:
        check_strict_schema(schema["items"], f"{where}.items")
    if schema.get("minItems", 0) not in (0, 1):
        raise InvalidRequest(f"{where}.minItems: only 0 or 1 is supported in strict mode")
    if "format" in schema and schema["format"] not in STRICT_FORMATS:
        raise InvalidRequest(f"{where}.format: '{schema['format']}' is not supported in strict mode")
    for value in schema.get("enum") or []:
        if isinstance(value, (dict, list)):
            raise InvalidRequest(f"{where}.enum: only strings, numbers, booleans and null are supported")
    for combinator in ("anyOf", "allOf"):
        for i, sub in enumerate(schema.get(combinator) or []):
            check_strict_schema(sub, f"{where}.{combinator}.{i}")


def check_tools(body):
    tools = body.get("tools")
    markers = 0
    names = []
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("tools: must be a list")
        for i, tool in enumerate(tools):
            where = f"tools.{i}"
            if not isinstance(tool, dict):
                raise InvalidRequest(f"{where}: must be an object")
            for key in sorted(tool):
                if key not in TOOL_FIELDS:
                    raise InvalidRequest(f"{where}.{key}: Extra inputs are not permitted")
            name = tool.get("name")
            if not isinstance(name, str) or not TOOL_NAME.match(name):
                raise InvalidRequest(f"{where}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise InvalidRequest(f"{where}.input_schema: must be a JSON schema with type 'object'")
            if "description" in tool and not isinstance(tool["description"], str):
                raise InvalidRequest(f"{where}.description: must be a string")
            if "strict" in tool:
                if not isinstance(tool["strict"], bool):
                    raise InvalidRequest(f"{where}.strict: Input should be a valid boolean")
                if tool["strict"]:
                    check_strict_schema(schema, f"{where}.input_schema")
            if "cache_control" in tool:
                markers += check_cache_control(tool["cache_control"], where)
            names.append(name)
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "none", "tool"):
            raise InvalidRequest("tool_choice.type: must be one of 'auto', 'any', 'none', 'tool'")
        if choice["type"] == "tool":
            if not isinstance(choice.get("name"), str):
                raise InvalidRequest("tool_choice.name: Field required")
            if choice["name"] not in names:
                raise InvalidRequest(f"tool_choice: tool '{choice['name']}' not found in tools")
        elif choice["type"] in ("any",) and not names:
            raise InvalidRequest("tool_choice: 'any' requires tools")
        if "disable_parallel_tool_use" in choice and not isinstance(choice["disable_parallel_tool_use"], bool):
            raise InvalidRequest("tool_choice.disable_parallel_tool_use: must be a boolean")
    return markers, names


def check_messages_body(body, count_only):
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    allowed = COUNT_FIELDS if count_only else MESSAGES_FIELDS
    for key in sorted(body):
        if key not in allowed:
            raise InvalidRequest(f"{key}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required")
    if not count_only:
        mt = body.get("max_tokens")
        if mt is None:
            raise InvalidRequest("max_tokens: Field required")
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise InvalidRequest("max_tokens: must be a positive integer")
        if "temperature" in body and (not isinstance(body["temperature"], (int, float))
                                      or not 0 <= body["temperature"] <= 1):
            raise InvalidRequest("temperature: must be between 0 and 1")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise InvalidRequest("stream: must be a boolean")
        if "stop_sequences" in body and (not isinstance(body["stop_sequences"], list) or
                                         not all(isinstance(s, str) for s in body["stop_sequences"])):
            raise InvalidRequest("stop_sequences: must be a list of strings")
        if "metadata" in body and (not isinstance(body["metadata"], dict)
                                   or set(body["metadata"]) - {"user_id"}):
            raise InvalidRequest("metadata: only user_id is allowed")
    markers = check_messages(body) + check_system(body.get("system"))
    tool_markers, names = check_tools(body)
    markers += tool_markers
    if markers > 4:
        raise InvalidRequest("A maximum of 4 blocks with cache_control may be provided. Found %d." % markers)
    return names


def check_chat_body(body):
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            raise InvalidRequest(f"messages[{i}].role is invalid")
    names = []
    for i, tool in enumerate(body.get("tools") or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict) \
                or not isinstance(fn.get("name"), str):
            raise InvalidRequest(f"tools[{i}] must be {{type: 'function', function: {{name, ...}}}}")
        names.append(fn["name"])
    return names


# ---- prompt caching ------------------------------------------------------------------

def cache_usage(state, body):
    """Splits input tokens into (uncached, created, read) the way the API reports them:
    the prefix up to the last cache_control marker (order tools, system, messages) is
    written the first time it is seen and read afterwards."""
    parts, last_marker = [], -1

    def add(item):
        nonlocal last_marker
        parts.append(json.dumps(item, sort_keys=True))
        if isinstance(item, dict) and "cache_control" in item:
            last_marker = len(parts)

    for tool in body.get("tools") or []:
        add(tool)
    system = body.get("system")
    if isinstance(system, list):
        for block in system:
            add(block)
    elif isinstance(system, str):
        add(system)
    for m in body.get("messages") or []:
        content = m.get("content")
        if isinstance(content, list):
            for block in content:
                add(block)
        else:
            add(content)
    total = tokens_of("".join(parts))
    if last_marker < 0:
        return total, 0, 0
    prefix_text = body.get("model", "") + "".join(parts[:last_marker])
    prefix = min(tokens_of(prefix_text), total)
    if prefix < state.cache_min_tokens:
        return total, 0, 0
    key = hashlib.sha256(prefix_text.encode()).hexdigest()
    with state.lock:
        seen = key in state.prefixes
        state.prefixes.add(key)
    return (total - prefix, 0, prefix) if seen else (total - prefix, prefix, 0)


# ---- the handler ---------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, the body would wait for
    # the client's delayed ACK (40 ms per answer).
    disable_nagle_algorithm = True
    server_version = "anthropic-mock/1"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # quiet: tests read stdout for the port only
        pass

    @property
    def state(self):
        return self.server.mock

    # -- low-level answers --
    def send_json(self, status, obj, request_id, extra_headers=None, raw=None,
                  content_type="application/json"):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("request-id", request_id)
        if not self.path.startswith("/__mock/"):
            for name, value in rate_limit_headers(status).items():
                self.send_header(name, value)
        for name, value in (extra_headers or {}).items():
            self.send_header(name, str(value))
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_envelope(self, status, message, request_id, extra_headers=None, openai=False):
        etype = ERROR_TYPES.get(status, "api_error")
        if openai:
            obj = {"error": {"message": message, "type": etype, "param": None, "code": None}}
        else:
            obj = {"type": "error", "error": {"type": etype, "message": message},
                   "request_id": request_id}
        self.send_json(status, obj, request_id, extra_headers)

    def drop_connection(self):
        """Close with a TCP reset, so the client sees a connection error."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # -- control API --
    def control(self, raw):
        path = self.path
        rid = new_id("req_")
        if path == "/__mock/script" and self.command == "POST":
            steps = json.loads(raw or b"[]")
            if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
                return self.send_json(400, {"error": "script must be a list of objects"}, rid)
            with self.state.lock:
                self.state.steps.extend(steps)
                queued = len(self.state.steps)
            return self.send_json(200, {"queued": queued}, rid)
        if path == "/__mock/requests" and self.command == "GET":
            with self.state.lock:
                log = list(self.state.requests)
            return self.send_json(200, log, rid)
        if path == "/__mock/reset" and self.command == "POST":
            with self.state.lock:
                self.state.steps.clear()
                self.state.requests.clear()
                self.state.prefixes.clear()
                self.state.batches.clear()
                self.state.batch_polls = 1
            return self.send_json(200, {"reset": True}, rid)
        if path == "/__mock/config" and self.command == "POST":
            conf = json.loads(raw or b"{}")
            with self.state.lock:
                if "batch_polls" in conf:
                    self.state.batch_polls = int(conf["batch_polls"])
            return self.send_json(200, {"batch_polls": self.state.batch_polls}, rid)
        return self.send_json(404, {"error": "unknown control endpoint"}, rid)

    def record(self, raw):
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = "<masked>" if name in ("x-api-key", "authorization") else value
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        entry = {"method": self.command, "path": self.path, "headers": headers,
                 "api_key_present": bool(self.headers.get("x-api-key")),
                 "authorization_present": bool(self.headers.get("authorization")),
                 "body": body, "time": time.time(), "client_port": self.client_address[1]}
        with self.state.lock:
            self.state.requests.append(entry)

    # -- dispatch --
    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        raw = self.read_body()
        if self.path.startswith("/__mock/"):
            return self.control(raw)
        self.record(raw)
        rid = new_id("req_")
        if mock_batches.handles(self.path):
            return mock_batches.serve(self, raw, rid, sys.modules[__name__])
        openai = self.path == "/v1/chat/completions"
        try:
            if self.path not in ("/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"):
                raise InvalidRequest(f"Not found: {self.path}", 404)
            if self.command != "POST":
                raise InvalidRequest(f"Method {self.command} not allowed", 405)
            body = self.validate(raw, openai)
        except InvalidRequest as e:
            return self.send_error_envelope(e.status, str(e), rid, openai=openai)
        step = self.state.next_step()
        latency = step.get("latency_ms", self.state.latency_ms)
        if latency:
            time.sleep(latency / 1000.0)
        extra = dict(step.get("headers") or {})
        self.answer(step, body, rid, extra, openai)

    def check_anthropic_headers(self):
        key = self.headers.get("x-api-key")
        if not key:
            raise InvalidRequest("x-api-key header is required", 401)
        if self.state.api_key and key != self.state.api_key:
            raise InvalidRequest("invalid x-api-key", 401)
        version = self.headers.get("anthropic-version")
        if not version:
            raise InvalidRequest("anthropic-version: header is required")
        if version not in ANTHROPIC_VERSIONS:
            raise InvalidRequest(f"anthropic-version: invalid version '{version}'")

    def json_body(self, raw):
        ctype = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise InvalidRequest("content-type must be application/json")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise InvalidRequest(f"There was an error parsing the body: {e}")

    def validate(self, raw, openai):
        if openai:
            auth = self.headers.get("authorization")
            if self.state.api_key and auth != "Bearer " + self.state.api_key:
                raise InvalidRequest("invalid api key", 401)
        else:
            self.check_anthropic_headers()
        body = self.json_body(raw)
        if openai:
            check_chat_body(body)
        else:
            check_messages_body(body, self.path.endswith("count_tokens"))
        return body

    def answer(self, step, body, rid, extra, openai):
        if "status" in step and step["status"] != 200:
            status = int(step["status"])
            if "retry_after" in step:
                extra["retry-after"] = str(step["retry_after"])
            if "retry_after_ms" in step:
                extra["retry-after-ms"] = str(step["retry_after_ms"])
            if "body" in step:  # e.g. a proxy's 413 page: not the JSON envelope
                return self.send_json(status, None, rid, extra, raw=str(step["body"]).encode(),
                                      content_type="text/html")
            return self.send_error_envelope(status, step.get("message", f"mock error {status}"),
                                            rid, extra, openai)
        if step.get("reset"):
            return self.drop_connection()
        if "sleep_s" in step:
            time.sleep(float(step["sleep_s"]))
            return self.drop_connection()
        if step.get("truncated"):
            data = json.dumps(self.message(step, body)).encode()
            half = data[: len(data) // 2]
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("request-id", rid)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(half)
            self.wfile.flush()
            return self.drop_connection()
        if step.get("invalid_json"):
            return self.send_json(200, None, rid, extra, raw=b'{"id": "msg_broken", "content": [')
        if self.path.endswith("count_tokens"):
            uncached, created, read = cache_usage(self.state, body)
            return self.send_json(200, {"input_tokens": uncached + created + read}, rid, extra)
        if openai:
            return self.send_json(200, self.chat_completion(step, body), rid, extra)
        message = self.message(step, body)
        if body.get("stream"):
            return self.stream(message, rid, extra, step)
        return self.send_json(200, message, rid, extra)

    def forced_tool(self, body):
        choice = body.get("tool_choice") or {}
        if choice.get("type") == "tool":
            return choice["name"]
        tools = body.get("tools") or []
        return tools[0]["name"] if tools else "emit_code"

    def message(self, step, body):
        """The 200 answer for a step, as the Messages API shapes it."""
        content, stop = [], "tool_use"
        if step.get("unknown_block"):
            content.append({"type": "thinking", "thinking": "Considering the schema.",
                            "signature": "c2lnbmF0dXJl"})
        tool_input = step.get("reply", DEFAULT_REPLY)
        if "tool_input_raw" in step:
            tool_input = step["tool_input_raw"]
        if "text" in step:
            content.append({"type": "text", "text": step["text"]})
            stop = "end_turn"
        elif step.get("stop_reason") == "refusal":
            content.append({"type": "text", "text": "I can't help with that request."})
            stop = "refusal"
        elif step.get("stop_reason") in STOP_REASONS - {"tool_use", "max_tokens"}:
            content.append({"type": "text", "text": "Stopping here."})
            stop = step["stop_reason"]
        else:
            if step.get("stop_reason") == "max_tokens":
                # The model ran out of room mid-answer: the input is an incomplete object.
                full = dict(tool_input) if isinstance(tool_input, dict) else {}
                tool_input = {k: full[k] for k in list(full)[:1]}
                if isinstance(tool_input.get("code"), str):
                    tool_input["code"] = tool_input["code"][: len(tool_input["code"]) // 3]
                stop = "max_tokens"
            content.append({"type": "tool_use", "id": new_id("toolu_"),
                            "name": self.forced_tool(body), "input": tool_input})
        uncached, created, read = cache_usage(self.state, body)
        return {"id": new_id("msg_"), "type": "message", "role": "assistant",
                "model": body.get("model"), "content": content, "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": uncached, "output_tokens": tokens_of(content),
                          "cache_creation_input_tokens": created,
                          "cache_read_input_tokens": read}}

    def chat_completion(self, step, body):
        msg = {"role": "assistant", "content": None}
        finish = "tool_calls"
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        name = (choice.get("function", {}).get("name") if isinstance(choice, dict) else None) \
            or (tools[0]["function"]["name"] if tools else "emit_code")
        if "text" in step:
            msg["content"], finish = step["text"], "stop"
        elif step.get("stop_reason") == "refusal":
            msg["content"], finish = "I can't help with that request.", "content_filter"
        else:
            args = json.dumps(step.get("reply", DEFAULT_REPLY))
            if "tool_input_raw" in step:
                args = step["tool_input_raw"]
            if step.get("stop_reason") == "max_tokens":
                args, finish = args[: len(args) // 2], "length"
            msg["tool_calls"] = [{"id": new_id("call_"), "type": "function",
                                  "function": {"name": name, "arguments": args}}]
        prompt = tokens_of(body.get("messages"))
        completion = tokens_of(msg)
        return {"id": new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}}

    def stream(self, message, rid, extra, step):
        """SSE in the documented order: message_start, per block start/delta/stop,
        message_delta (stop_reason, usage), message_stop; a ping after the start."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", rid)
        for name, value in extra.items():
            self.send_header(name, str(value))
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

        delay = float(step.get("stream_delay_ms", 0)) / 1000.0

        def event(name, data):
            if delay:
                time.sleep(delay)
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        start = dict(message, content=[], stop_reason=None,
                     usage=dict(message["usage"], output_tokens=1))
        event("message_start", {"type": "message_start", "message": start})
        event("ping", {"type": "ping"})
        if step.get("stream_stall_s"):
            time.sleep(float(step["stream_stall_s"]))
        if step.get("stream_error"):
            etype = step["stream_error"]
            event("error", {"type": "error", "error": {"type": etype, "message": "mock stream error"}})
            return
        for i, block in enumerate(message["content"]):
            if block["type"] == "tool_use":
                event("content_block_start", {"type": "content_block_start", "index": i,
                                               "content_block": dict(block, input={})})
                text = json.dumps(block["input"])
                for k in range(0, len(text), 64):
                    event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                  "delta": {"type": "input_json_delta",
                                                            "partial_json": text[k:k + 64]}})
            elif block["type"] == "text":
                event("content_block_start", {"type": "content_block_start", "index": i,
                                               "content_block": {"type": "text", "text": ""}})
                event("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "text_delta", "text": block["text"]}})
            else:
                event("content_block_start", {"type": "content_block_start", "index": i,
                                               "content_block": block})
            event("content_block_stop", {"type": "content_block_stop", "index": i})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                "usage": {"output_tokens": message["usage"]["output_tokens"]}})
        event("message_stop", {"type": "message_stop"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients that time out or give up mid-answer are part of the tests: stay quiet.
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError, TimeoutError)):
            super().handle_error(request, client_address)


def exit_with_parent():
    """A test runner that dies must not leave servers behind: exit when orphaned."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description="Anthropic Messages API mock for tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--cache-min-tokens", type=int, default=0,
                        help="shortest prefix that is cached (the real API: 1024+)")
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    server.mock = MockState(args.latency_ms, args.api_key, args.cache_min_tokens)
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

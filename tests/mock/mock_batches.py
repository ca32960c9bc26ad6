"""mock_batches.py — the Message Batches and Models endpoints of the Anthropic mock
(anthropic_mock.py), following the same protocol reference and the API reference for
the fields it does not cover:

    POST /v1/messages/batches               {"requests": [{"custom_id", "params"}]} -> MessageBatch
    GET  /v1/messages/batches/{id}          MessageBatch (in_progress, then ended)
    GET  /v1/messages/batches/{id}/results  JSONL {"custom_id", "result": {"type": ...}}
    GET  /v1/models                         {"data": [ModelInfo], "has_more", "first_id", "last_id"}
    GET  /v1/models/{id}                    ModelInfo (max_input_tokens, max_tokens)

A MessageBatch is {id, type: "message_batch", processing_status, request_counts
{processing, succeeded, errored, canceled, expired}, created_at, expires_at, ended_at,
cancel_initiated_at, archived_at, results_url}. Each item takes the next script step
when the batch is created (so a batch's answers are the ones a run of synchronous
requests would get): a normal step gives a `succeeded` result with the message (prompt
caching applies across the items, in order); {"batch_result": "errored", "status": S}
gives an `errored` result with the error envelope; "expired" and "canceled" give those
types. Results come back in reverse order: clients must match them by custom_id.
"""
import json
import re
import time

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
BATCH_PATH = re.compile(r"^/v1/messages/batches/([^/]+)(/results)?$")
MODEL_PATH = re.compile(r"^/v1/models/([^/]+)$")
MODELS = [
    {"type": "model", "id": "claude-sonnet-5", "display_name": "Claude Sonnet 5",
     "created_at": "2026-09-01T00:00:00Z", "max_input_tokens": 200000, "max_tokens": 64000},
    {"type": "model", "id": "claude-opus-4-6", "display_name": "Claude Opus 4.6",
     "created_at": "2026-02-05T00:00:00Z", "max_input_tokens": 1000000, "max_tokens": 128000},
    {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
     "created_at": "2025-09-29T00:00:00Z", "max_input_tokens": 200000, "max_tokens": 64000},
    {"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5",
     "created_at": "2025-10-15T00:00:00Z", "max_input_tokens": 200000, "max_tokens": 64000},
]


def handles(path):
    path = path.split("?")[0]
    return path.startswith("/v1/messages/batches") or path == "/v1/models" or path.startswith("/v1/models/")


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000000Z"


def batch_object(h, batch):
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    ended = batch["polls_left"] <= 0
    for item in batch["items"]:
        counts[item["result"]["type"] if ended else "processing"] += 1
    base = f"http://{h.headers.get('host') or '127.0.0.1'}"
    return {"id": batch["id"], "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts, "created_at": rfc3339(batch["created"]),
            "expires_at": rfc3339(batch["created"] + 86400),
            "ended_at": rfc3339(time.time()) if ended else None,
            "cancel_initiated_at": None, "archived_at": None,
            "results_url": f"{base}/v1/messages/batches/{batch['id']}/results" if ended else None}


def item_result(h, api, step, params):
    kind = step.get("batch_result")
    if kind == "errored":
        status = int(step.get("status", 500))
        etype = api.ERROR_TYPES.get(status, "api_error")
        return {"type": "errored", "error": {"type": "error", "error": {
            "type": etype, "message": step.get("message", f"mock batch item error {status}")}}}
    if kind in ("expired", "canceled"):
        return {"type": kind}
    return {"type": "succeeded", "message": h.message(step, params)}


def create(h, api, body):
    if not isinstance(body, dict) or set(body) != {"requests"}:
        extra = sorted(set(body) - {"requests"}) if isinstance(body, dict) else []
        raise api.InvalidRequest(f"{extra[0]}: Extra inputs are not permitted" if extra
                                 else "requests: Field required")
    reqs = body["requests"]
    if not isinstance(reqs, list) or not reqs:
        raise api.InvalidRequest("requests: must be a non-empty list")
    if len(reqs) > 100000:
        raise api.InvalidRequest("requests: at most 100,000 requests per batch")
    seen = set()
    for i, r in enumerate(reqs):
        where = f"requests.{i}"
        if not isinstance(r, dict) or set(r) - {"custom_id", "params"}:
            raise api.InvalidRequest(f"{where}: must be {{custom_id, params}}")
        cid = r.get("custom_id")
        if not isinstance(cid, str) or not CUSTOM_ID.match(cid):
            raise api.InvalidRequest(f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        if cid in seen:
            raise api.InvalidRequest(f"{where}.custom_id: duplicate custom_id '{cid}'")
        seen.add(cid)
        params = r.get("params")
        try:
            api.check_messages_body(params, False)
        except api.InvalidRequest as e:
            raise api.InvalidRequest(f"{where}.params.{e}")
        if params.get("stream"):
            raise api.InvalidRequest(f"{where}.params.stream: streaming is not supported in batches")
    items = []
    for r in reqs:
        step = h.state.next_step()
        items.append({"custom_id": r["custom_id"], "result": item_result(h, api, step, r["params"])})
    batch = {"id": api.new_id("msgbatch_"), "created": time.time(), "items": items,
             "polls_left": h.state.batch_polls}
    with h.state.lock:
        h.state.batches[batch["id"]] = batch
    return batch_object(h, batch)


def serve(h, raw, rid, api):
    path = h.path.split("?")[0]
    try:
        h.check_anthropic_headers()
        if path == "/v1/messages/batches":
            if h.command != "POST":
                raise api.InvalidRequest(f"Method {h.command} not allowed", 405)
            return h.send_json(200, create(h, api, h.json_body(raw)), rid)
        if h.command != "GET":
            raise api.InvalidRequest(f"Method {h.command} not allowed", 405)
        if path == "/v1/models":
            return h.send_json(200, {"data": MODELS, "has_more": False, "first_id": MODELS[0]["id"],
                                     "last_id": MODELS[-1]["id"]}, rid)
        m = MODEL_PATH.match(path)
        if m:
            for model in MODELS:
                if model["id"] == m.group(1):
                    return h.send_json(200, model, rid)
            raise api.InvalidRequest(f"model: {m.group(1)}", 404)
        m = BATCH_PATH.match(path)
        if not m:
            raise api.InvalidRequest(f"Not found: {path}", 404)
        with h.state.lock:
            batch = h.state.batches.get(m.group(1))
        if batch is None:
            raise api.InvalidRequest(f"message_batch_id: no batch '{m.group(1)}'", 404)
        if m.group(2):
            if batch["polls_left"] > 0:
                raise api.InvalidRequest(f"Message Batch {batch['id']} has not yet ended; results are not available")
            lines = [json.dumps(item) for item in reversed(batch["items"])]
            data = ("\n".join(lines) + "\n").encode()
            return h.send_json(200, None, rid, raw=data, content_type="application/binary")
        with h.state.lock:
            view = batch_object(h, batch)
            batch["polls_left"] -= 1
        return h.send_json(200, view, rid)
    except api.InvalidRequest as e:
        return h.send_error_envelope(e.status, str(e), rid)

-- llm/stream.lua — reads a Messages API answer sent as server-sent events (stream =
-- true) as it arrives and assembles the very message the non-streamed call returns:
-- message_start, then per content block content_block_start / _delta (text_delta,
-- input_json_delta concatenated and parsed at content_block_stop, thinking_delta,
-- signature_delta) / _stop, then message_delta (stop_reason, cumulative usage) and
-- message_stop. `ping` and unknown events are skipped; an `error` event mid-stream
-- becomes the answer's error.
--
--   local s = stream.new{on_progress = function(p) ... end}   -- p = {bytes=, events=, chars=}
--   s:feed(data, status, attempt)   -- sparkgen.http's on_chunk; a new attempt starts over
--   s:result() → message table | nil, error object {type=, message=} | nil, nil, "why"
local cjson = require "cjson.safe"

local M = {}

local Stream = {}
Stream.__index = Stream

function M.new(opts)
  opts = opts or {}
  local s = setmetatable({on_progress = opts.on_progress}, Stream)
  s:reset(nil)
  return s
end

function Stream:reset(attempt)
  self.attempt = attempt
  self.buf = ""
  self.msg = nil
  self.blocks = {}
  self.json = {}
  self.done = false
  self.err = nil
  self.bad = nil
  self.bytes, self.events, self.chars = 0, 0, 0
end

-- One event's data (already decoded).
function Stream:event(name, data)
  self.events = self.events + 1
  local t = type(data) == "table" and data.type or name
  if t == "message_start" and type(data.message) == "table" then
    self.msg = data.message
    self.msg.content = {}
  elseif t == "content_block_start" and type(data.content_block) == "table" then
    local i = (math.tointeger(data.index) or #self.blocks) + 1
    local block = {}
    for k, v in pairs(data.content_block) do block[k] = v end
    self.blocks[i] = block
    if block.type == "tool_use" then self.json[i] = {} end
  elseif t == "content_block_delta" and type(data.delta) == "table" then
    local i = (math.tointeger(data.index) or 0) + 1
    local block, d = self.blocks[i], data.delta
    if not block then return end
    if d.type == "text_delta" and type(d.text) == "string" then
      block.text = (block.text or "") .. d.text
      self.chars = self.chars + #d.text
    elseif d.type == "input_json_delta" and type(d.partial_json) == "string" then
      local parts = self.json[i] or {}
      self.json[i] = parts
      parts[#parts + 1] = d.partial_json
      self.chars = self.chars + #d.partial_json
    elseif d.type == "thinking_delta" and type(d.thinking) == "string" then
      block.thinking = (block.thinking or "") .. d.thinking
    elseif d.type == "signature_delta" and type(d.signature) == "string" then
      block.signature = d.signature
    end
  elseif t == "content_block_stop" then
    local i = (math.tointeger(data.index) or 0) + 1
    local block, parts = self.blocks[i], self.json[i]
    if block and parts then
      local text = table.concat(parts)
      if text == "" then
        block.input = {}
      else
        local input = cjson.decode(text)
        -- Unparseable input stays as its text: validation then says what is wrong.
        block.input = input == nil and text or input
      end
      self.json[i] = nil
    end
  elseif t == "message_delta" and self.msg then
    local d = type(data.delta) == "table" and data.delta or {}
    if d.stop_reason ~= nil then self.msg.stop_reason = d.stop_reason end
    if d.stop_sequence ~= nil then self.msg.stop_sequence = d.stop_sequence end
    if type(data.usage) == "table" then
      self.msg.usage = type(self.msg.usage) == "table" and self.msg.usage or {}
      for k, v in pairs(data.usage) do
        if v ~= cjson.null then self.msg.usage[k] = v end
      end
    end
  elseif t == "message_stop" then
    self.done = true
  elseif t == "error" then
    self.err = type(data.error) == "table" and data.error or {type = "api_error", message = "error event"}
  end
end

local function parse_event(text)
  local name, data = nil, {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    local field, value = line:match("^([^:]*):%s?(.*)$")
    if field == "event" then name = value
    elseif field == "data" then data[#data + 1] = value end
  end
  return name, table.concat(data, "\n")
end

--- Feed one piece of the body (sparkgen.http's on_chunk). Pieces of an error status
--- are ignored (that body is the JSON error envelope); a retried attempt starts over.
function Stream:feed(data, status, attempt)
  if status ~= 200 then return end
  if attempt ~= self.attempt then self:reset(attempt) end
  self.bytes = self.bytes + #data
  self.buf = self.buf .. data
  while true do
    local a, b = self.buf:find("\r?\n\r?\n")
    if not a then break end
    local chunk = self.buf:sub(1, a - 1)
    self.buf = self.buf:sub(b + 1)
    local name, text = parse_event(chunk)
    if text ~= "" then
      local value = cjson.decode(text)
      if value == nil then
        self.bad = self.bad or ("event %s carries data that is not JSON"):format(tostring(name))
      else
        self:event(name, value)
      end
    end
  end
  if self.on_progress then self.on_progress({bytes = self.bytes, events = self.events, chars = self.chars}) end
end

--- The assembled message, or nil and the error event's error, or nil, nil and why the
--- stream is unusable (ended early, not JSON).
function Stream:result()
  if self.err then return nil, self.err end
  if self.bad then return nil, nil, self.bad end
  if not self.msg then return nil, nil, "the stream had no message_start" end
  if not self.done then return nil, nil, "the stream ended before message_stop" end
  for i, block in ipairs(self.blocks) do self.msg.content[i] = block end
  return self.msg
end

return M

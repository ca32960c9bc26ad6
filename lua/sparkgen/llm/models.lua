-- llm/models.lua — what each model can do, as data: whether it accepts strict tool use
-- (`strict: true`, grammar-constrained tool input), its largest output (`max_tokens`)
-- and its context window. Teams add or correct models in the config:
--   models = {["claude-sonnet-5"] = {strict = true, max_output_tokens = 64000,
--                                    context_window = 200000}}
-- A model in neither table is unknown: no strict flag is sent (our own validation always
-- runs anyway) and a `max_tokens` stop is retried once with twice the room.
--
--   capabilities(cfg, model) → {strict=, max_output_tokens=, context_window=, known=} | nil, message
--   larger_max_tokens(cfg, model, current) → n (> current) | nil
--   check_config(cfg) → true | nil, message   (unknown fields and bad values in cfg.models)
local common = require "sparkgen.llm.common"
local util = require "sparkgen.util"

local M = {}

-- Sources: Anthropic's models overview and structured-outputs pages (structured outputs
-- and strict tool use are generally available for the Claude 4.5 and 4.6 families);
-- `GET /v1/models/{id}` returns max_tokens and max_input_tokens for any id
-- (`sparkgen doctor` shows them). Checked 2026-12-04.
-- claude-sonnet-5 and claude-opus-5 carry the 4.6 family's floor (64k out, 200k in)
-- until their own numbers are confirmed: a smaller limit is always accepted.
M.TABLE = {
  ["claude-opus-4-6"]   = {strict = true, max_output_tokens = 128000, context_window = 1000000},
  ["claude-sonnet-4-6"] = {strict = true, max_output_tokens = 64000,  context_window = 1000000},
  ["claude-opus-4-5"]   = {strict = true, max_output_tokens = 64000,  context_window = 200000},
  ["claude-sonnet-4-5"] = {strict = true, max_output_tokens = 64000,  context_window = 200000},
  ["claude-haiku-4-5"]  = {strict = true, max_output_tokens = 64000,  context_window = 200000},
  ["claude-opus-5"]     = {strict = true, max_output_tokens = 64000,  context_window = 200000},
  ["claude-sonnet-5"]   = {strict = true, max_output_tokens = 64000,  context_window = 200000},
}

M.FIELDS = {
  strict = "boolean",
  max_output_tokens = "count",
  context_window = "count",
}

local function check_entry(name, entry)
  local where = "config"
  if type(entry) ~= "table" then
    return nil, ("%s: models[%q] must be a table {strict=, max_output_tokens=, context_window=}"):format(where, name)
  end
  for k, v in pairs(entry) do
    local kind = M.FIELDS[k]
    if not kind then
      return nil, ("%s: models[%q]: unknown field '%s'%s"):format(where, name, tostring(k),
        util.suggest(tostring(k), util.sorted_keys(M.FIELDS)))
    end
    if kind == "boolean" and type(v) ~= "boolean" then
      return nil, ("%s: models[%q].%s must be true or false"):format(where, name, k)
    end
    if kind == "count" and not (math.type(v) == "integer" and v > 0) then
      return nil, ("%s: models[%q].%s must be a positive whole number"):format(where, name, k)
    end
  end
  return true
end

--- The config's model entries checked: true or nil, message.
function M.check_config(cfg)
  return common.check_model_section(cfg, "models", check_entry)
end

--- The capabilities of `model` under cfg: the built-in entry with the config's fields
--- over it. `known` is false for a model in neither table.
function M.capabilities(cfg, model)
  local ok, err = M.check_config(cfg)
  if not ok then return nil, err end
  local base = M.TABLE[model]
  local over = cfg and type(cfg.models) == "table" and cfg.models[model] or nil
  local out = {strict = false, known = (base or over) ~= nil}
  for k, v in pairs(base or {}) do out[k] = v end
  for k, v in pairs(over or {}) do out[k] = v end
  return out
end

--- The max_tokens for one retry after a `max_tokens` stop: twice the room, capped at the
--- model's limit; nil when no larger value is allowed.
function M.larger_max_tokens(cfg, model, current)
  current = math.tointeger(current) or 0
  if current <= 0 then return nil end
  local caps = M.capabilities(cfg, model)
  local limit = caps and caps.max_output_tokens
  local want = current * 2
  if limit then want = math.min(want, limit) end
  if want <= current then return nil end
  return want
end

return M

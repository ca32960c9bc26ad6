-- llm/prices.lua — what tokens cost, as data, and the one function that turns a usage
-- object into US dollars. Teams add or correct models in the config:
--   prices = {["claude-sonnet-5"] = {input = 3, output = 15, cache_write = 3.75,
--                                    cache_read = 0.30, batch_discount = 0.5}}
-- (USD per million tokens; batch_discount is the fraction taken off every token class
-- in a Message Batch). A model in neither table has no price: cost() says so and never
-- guesses.
--
--   cost(model, usage, {batch = bool, cfg = cfg}) → usd | nil, "price unknown for model 'x'"
--   check_config(cfg) → true | nil, message
local common = require "sparkgen.llm.common"
local util = require "sparkgen.util"

local M = {}

-- List prices from Anthropic's pricing page, USD per million tokens; cache_write is the
-- 5-minute cache write (1.25x input), cache_read a cache hit (0.1x input); the Message
-- Batches API takes 50% off every class. claude-sonnet-5 and claude-opus-5 are absent on
-- purpose: their prices were not confirmed when this table was written, and a guess
-- would be a wrong number. Add them in the config once known.
M.DATE = "2026-12-04"
M.TABLE = {
  ["claude-opus-4-6"]   = {input = 5, output = 25, cache_write = 6.25, cache_read = 0.50, batch_discount = 0.5},
  ["claude-opus-4-5"]   = {input = 5, output = 25, cache_write = 6.25, cache_read = 0.50, batch_discount = 0.5},
  ["claude-sonnet-4-6"] = {input = 3, output = 15, cache_write = 3.75, cache_read = 0.30, batch_discount = 0.5},
  ["claude-sonnet-4-5"] = {input = 3, output = 15, cache_write = 3.75, cache_read = 0.30, batch_discount = 0.5},
  ["claude-haiku-4-5"]  = {input = 1, output = 5,  cache_write = 1.25, cache_read = 0.10, batch_discount = 0.5},
}

M.FIELDS = {input = true, output = true, cache_write = true, cache_read = true, batch_discount = true}

local function check_entry(name, entry)
  if type(entry) ~= "table" then
    return nil, ("config: prices[%q] must be a table {input=, output=, cache_write=, cache_read=, batch_discount=}"):format(name)
  end
  for k, v in pairs(entry) do
    if not M.FIELDS[k] then
      return nil, ("config: prices[%q]: unknown field '%s'%s"):format(name, tostring(k),
        util.suggest(tostring(k), util.sorted_keys(M.FIELDS)))
    end
    if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
      return nil, ("config: prices[%q].%s must be a number >= 0 (USD per million tokens)"):format(name, k)
    end
  end
  if entry.batch_discount and entry.batch_discount > 1 then
    return nil, ("config: prices[%q].batch_discount is a fraction between 0 and 1"):format(name)
  end
  if not M.TABLE[name] and (entry.input == nil or entry.output == nil) then
    return nil, ("config: prices[%q] needs at least input and output (USD per million tokens)"):format(name)
  end
  return true
end

function M.check_config(cfg)
  return common.check_model_section(cfg, "prices", check_entry)
end

--- The price entry for a model under cfg (built-in fields with the config's over them),
--- with cache prices defaulting to 1.25x / 0.1x input and no batch discount; or nil.
function M.price(model, cfg)
  if type(model) ~= "string" then return nil end
  local base = M.TABLE[model]
  local over = cfg and type(cfg.prices) == "table" and cfg.prices[model] or nil
  if not base and not over then return nil end
  local p = {}
  for k, v in pairs(base or {}) do p[k] = v end
  for k, v in pairs(over or {}) do p[k] = v end
  if not (p.input and p.output) then return nil end
  p.cache_write = p.cache_write or p.input * 1.25
  p.cache_read = p.cache_read or p.input * 0.1
  p.batch_discount = p.batch_discount or 0
  return p
end

--- cost(model, usage, opts) → USD, or nil and why (unknown model, bad config).
function M.cost(model, usage, opts)
  opts = opts or {}
  local ok, err = M.check_config(opts.cfg)
  if not ok then return nil, err end
  local p = M.price(model, opts.cfg)
  if not p then
    return nil, ("price unknown for model '%s' (add it to prices in the config)"):format(tostring(model))
  end
  local u = type(usage) == "table" and usage or {}
  local function n(k) return tonumber(u[k]) or 0 end
  local usd = (n("input_tokens") * p.input + n("output_tokens") * p.output
    + n("cache_creation_input_tokens") * p.cache_write + n("cache_read_input_tokens") * p.cache_read) / 1e6
  if opts.batch then usd = usd * (1 - p.batch_discount) end
  return usd
end

--- "$0.0123" or "price unknown": the text form used by every summary line.
function M.format(usd)
  if usd == nil then return "price unknown" end
  if usd > 0 and usd < 0.0001 then return ("$%.6f"):format(usd) end
  return ("$%.4f"):format(usd)
end

return M

-- tests/lib/json_reference.lua — the canonical JSON encoder as it was written in Lua
-- before src/json.c replaced it: the reference json_spec.lua holds the C encoder to
-- (cache keys and recordings depend on every byte staying the same).
local cjson = require "cjson.safe"

local M = {}

local sorted_keys = require("sparkgen.util").sorted_keys

local function enc_plain(v)
  local e = cjson.encode(v)
  if e:find("\\/", 1, true) then e = e:gsub("\\/", "/") end
  return e
end

function M.encode(value, indent, array_mt)
  local buf, n = {}, 0
  local colon = indent and ": " or ":"
  local function pad_of(depth) return indent and ("\n" .. (" "):rep(indent * depth)) or "" end
  local function is_array(t)
    if getmetatable(t) == array_mt then return true end
    if t[1] == nil then return false end
    local count = 0
    for _ in pairs(t) do count = count + 1 end
    return count == #t
  end
  local function emit(v, depth)
    local tv = type(v)
    if tv == "table" then
      local pad, close = pad_of(depth + 1), pad_of(depth)
      if is_array(v) then
        local len = #v
        if len == 0 then n = n + 1; buf[n] = "[]" return end
        for i = 1, len do
          n = n + 1; buf[n] = i == 1 and "[" or ","
          n = n + 1; buf[n] = pad
          emit(v[i], depth + 1)
        end
        n = n + 1; buf[n] = close .. "]"
      else
        local keys = sorted_keys(v)
        if #keys == 0 then n = n + 1; buf[n] = "{}" return end
        for i, k in ipairs(keys) do
          n = n + 1; buf[n] = i == 1 and "{" or ","
          n = n + 1; buf[n] = pad
          n = n + 1; buf[n] = enc_plain(tostring(k))
          n = n + 1; buf[n] = colon
          emit(v[k], depth + 1)
        end
        n = n + 1; buf[n] = close .. "}"
      end
    elseif tv == "number" and math.type(v) == "float" and v == math.floor(v) and v > -2^53 and v < 2^53 then
      n = n + 1; buf[n] = ("%d"):format(v)
    elseif tv == "string" then
      n = n + 1; buf[n] = enc_plain(v)
    else
      n = n + 1; buf[n] = cjson.encode(v) or "null"
    end
  end
  emit(value, 0)
  return table.concat(buf, "", 1, n)
end

return M

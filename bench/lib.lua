-- bench/lib.lua — what the Lua benchmark drivers share.
local M = {}

--- The median of a list of numbers.
function M.median(xs)
  local s = {table.unpack(xs)}
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

return M

-- field_lines.lua — where each field of the table a Lua plugin file returns is written,
-- so a field error can name its real line (registry.lua). A small scanner of the file's
-- text: it skips comments and strings (short and long), follows the braces of table
-- constructors and records `key = ` and positional entries with their paths
-- ("params.limit.type", "checks.2"). Best effort by design: what it cannot see (a table
-- built in a loop) falls back to the parent's line.
local M = {}

-- Skip a long bracket ([[...]], [==[...]==]) starting at i (the first '['); returns the
-- position after it and the newlines it spans, or nil when `i` does not open one.
local function long_bracket(text, i)
  local eq = text:match("^%[(=*)%[", i)
  if not eq then return nil end
  local close = "]" .. eq .. "]"
  local s = text:find(close, i + #eq + 2, true)
  local stop = s and (s + #close) or (#text + 1)
  local _, nl = text:sub(i, stop - 1):gsub("\n", "")
  return stop, nl
end

--- scan(text) → {["name"] = 3, ["params.limit.type"] = 7, ["checks.2"] = 12,
--- [""] = line of the table's "{"} for the table constructor the file returns (the
--- last top-level one when no `return {` is found). Best effort: a field written some
--- other way (built in a loop, set after the constructor) is simply not listed.
function M.scan(text)
  local tables = {} -- one map per top-level constructor
  local current, returned
  local stack = {} -- open constructors: {path =, index =, at_item =, key =}
  local i, line, n = 1, 1, #text
  local prev_word
  while i <= n do
    local c = text:sub(i, i)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif text:sub(i, i + 1) == "--" then
      local stop, nl = long_bracket(text, i + 2)
      if stop then
        i, line = stop, line + nl
      else
        local e = text:find("\n", i, true)
        i = e or n + 1
      end
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = text:sub(j, j)
        if d == "\\" then
          if text:sub(j + 1, j + 1) == "\n" then line = line + 1 end
          j = j + 2
        elseif d == c then break
        else
          if d == "\n" then line = line + 1 end
          j = j + 1
        end
      end
      local top = stack[#stack]
      if top and top.at_item then -- a positional string item
        top.index = top.index + 1
        current[top.path .. top.index] = current[top.path .. top.index] or line
        top.at_item = false
      end
      i = j + 1
      prev_word = nil
    elseif c == "[" and long_bracket(text, i) then
      local stop, nl = long_bracket(text, i)
      local top = stack[#stack]
      if top and top.at_item then
        top.index = top.index + 1
        current[top.path .. top.index] = current[top.path .. top.index] or line
        top.at_item = false
      end
      i, line = stop, line + nl
      prev_word = nil
    elseif c == "{" then
      local top = stack[#stack]
      local path
      if not top then
        current = {[""] = line}
        tables[#tables + 1] = current
        if prev_word == "return" then returned = current end
        path = ""
      else
        local key = top.key
        if top.at_item then
          top.index = top.index + 1
          key = tostring(top.index)
          current[top.path .. key] = current[top.path .. key] or line
          top.at_item = false
        end
        path = top.path .. (key or "?") .. "."
      end
      stack[#stack + 1] = {path = path, index = 0, at_item = true}
      i = i + 1
      prev_word = nil
    elseif c == "}" then
      stack[#stack] = nil
      local top = stack[#stack]
      if top then top.key = nil end
      i = i + 1
      prev_word = nil
    elseif c == "," or c == ";" then
      local top = stack[#stack]
      if top then top.at_item, top.key = true, nil end
      i = i + 1
      prev_word = nil
    else
      local word = text:match("^[%a_][%w_]*", i)
      local top = stack[#stack]
      if word then
        local after = text:match("^%s*()", i + #word)
        if top and top.at_item and text:sub(after, after) == "=" and text:sub(after + 1, after + 1) ~= "=" then
          top.key = word
          current[top.path .. word] = current[top.path .. word] or line
          top.at_item = false
        elseif top and top.at_item then
          top.index = top.index + 1
          current[top.path .. top.index] = current[top.path .. top.index] or line
          top.at_item = false
        end
        prev_word = word
        i = i + #word
      else
        if top and top.at_item then
          local key = c == "[" and text:match("^%[%s*([\"'])(.-)%1%s*%]%s*=[^=]", i)
          if key then
            local _, name = text:match("^%[%s*([\"'])(.-)%1", i)
            top.key = name
            current[top.path .. name] = current[top.path .. name] or line
          else
            top.index = top.index + 1
            current[top.path .. top.index] = current[top.path .. top.index] or line
          end
          top.at_item = false
        end
        prev_word = nil
        i = i + 1
      end
    end
  end
  return returned or tables[#tables] or {[""] = 1}
end

--- The line of `field` ("params.limit.type"): its own, else its closest parent's.
function M.line_of(lines, field)
  local f = field
  while f and f ~= "" do
    if lines[f] then return lines[f] end
    f = f:match("^(.*)%.[^.]*$")
  end
  return lines[""] or 1
end

return M

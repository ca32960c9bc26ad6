-- template.lua — renders templates/ and prompts/ files.
-- The syntax is Penlight's pl.template with `%` as the escape: a line that starts
-- (column 0) with `%` is Lua; `$(expr)` inserts tostring(expr or ''). (`#` starts
-- comments in Python and headings in Markdown, so it cannot be the escape.)
--
-- The compiler is here rather than pl.template's for two reasons the user sees: line N
-- of the generated Lua is line N of the template, so an error says the template's own
-- file:line (pl.template adds lines, so its errors point elsewhere, and it renders
-- under debug.traceback); and the code runs in the sandbox (sandbox.lua): the
-- template's variables and the safe library only, under the instruction and memory
-- budgets — `% os.execute(...)` in a prompt is an unknown name, not a command.
local paths = require "sparkgen.paths"
local sandbox = require "sparkgen.sandbox"
local util = require "sparkgen.util"

local M = {}

M.ESCAPE = "%%" -- a Lua pattern: a literal % in column 0

-- Text between Lua lines: literal pieces and $(...) insertions, all on the lines they
-- came from (%q keeps a newline as a backslash-newline, so the count is unchanged).
local function text_code(out, text)
  local s = 1
  for term, expr, e in text:gmatch("()%$(%b())()") do
    if term > s then out[#out + 1] = ("__R[#__R+1]=%q "):format(text:sub(s, term - 1)) end
    out[#out + 1] = ("__R[#__R+1]=__tostring(%s or '') "):format(expr)
    s = e
  end
  if s <= #text then out[#out + 1] = ("__R[#__R+1]=%q "):format(text:sub(s)) end
end

--- The Lua code of a template (one code line per template line).
function M.translate(text)
  local out = {"local __R, __tostring, __concat = {}, ...; "}
  local pos = 1
  local n = #text
  while pos <= n do
    -- a Lua line: one or more escapes in column 0, up to the end of the line
    local lua_start = text:match("^" .. M.ESCAPE .. "+()", pos)
    if lua_start then
      local eol = text:find("\n", lua_start, true)
      out[#out + 1] = text:sub(lua_start, (eol or n + 1) - 1) .. "\n"
      pos = (eol or n) + 1
    else
      -- text up to (and including) the newline before the next Lua line
      local nxt = text:find("\n" .. M.ESCAPE, pos)
      local stop = nxt or n
      text_code(out, text:sub(pos, stop))
      pos = stop + 1
    end
  end
  out[#out + 1] = "\nreturn __concat(__R)"
  return table.concat(out)
end

local compiled = {}

-- Compiled once per chunk name and text (a file may change under a long-lived process).
local function compile(name, text)
  local c = compiled[name]
  if c and c.text == text then return c.fn end
  local fn, err = sandbox.load(M.translate(text), name, sandbox.env())
  if not fn then return nil, err end
  compiled[name] = {text = text, fn = fn}
  return fn
end

-- Run a compiled template with `vars` (its variables, lent as read-only views).
local function run(fn, vars)
  local env = sandbox.env{vars = vars, lend = true} -- the engine's tables, read-only
  debug.setupvalue(fn, 1, env) -- _ENV of the main chunk: this render's variables
  local ok, out = sandbox.pcall(fn, tostring, table.concat)
  if not ok then return nil, out end
  return out
end

--- Render a template string with `vars` (name is the chunk name: "@file" for errors
--- that say file:line). For a string written inside a file (a type's description),
--- first_line() gives the file's line of the string's first line, asked only when an
--- error's line needs moving there. Returns text or nil, message.
function M.render_string(text, vars, name, first_line)
  name = name or ("=" .. text:sub(1, 40))
  local fn, err = compile(name, text)
  local out
  if fn then out, err = run(fn, vars or {}) end
  if out then return out end
  local shown = name:sub(2)
  if first_line and err:sub(1, #shown + 1) == shown .. ":" then
    err = err:gsub("^(.-:)(%d+):", function(p, n)
      return p == shown .. ":" and (p .. (tonumber(n) + first_line() - 1) .. ":") or nil
    end, 1)
  end
  return nil, err
end

--- Render the file `name` found under `kind` ("templates" or "prompts").
function M.render(kind, name, vars)
  local path = paths.find(kind, name)
  if not path then return nil, ("%s file '%s' not found in %s"):format(kind, name, M.search_description(kind)) end
  local text, err = util.read_file(path)
  if not text then return nil, err end
  local fn, cerr = compile("@" .. path, text)
  if not fn then return nil, cerr end
  local out, rerr = run(fn, vars or {})
  if not out then return nil, rerr end
  return out, path
end

function M.search_description(kind)
  local dirs = {}
  for _, d in ipairs(paths.dirs(kind)) do dirs[#dirs + 1] = d.dir end
  return table.concat(dirs, ", ")
end

return M

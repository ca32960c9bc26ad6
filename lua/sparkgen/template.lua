-- template.lua — renders templates/ and prompts/ files with Penlight's pl.template.
-- Lines that start with `%` (column 0) are Lua; `$(expr)` inserts a value.
-- (`#` starts comments in Python and headings in Markdown, so it cannot be the escape.)
local pltemplate = require "pl.template"
local paths = require "sparkgen.paths"
local util = require "sparkgen.util"

local M = {}

M.ESCAPE = "%%" -- a Lua pattern: a literal % in column 0

local compiled = {}

local function compile(path, text)
  local key = path
  if compiled[key] then return compiled[key] end
  local ct, err = pltemplate.compile(text, {chunk_name = "@" .. path, escape = M.ESCAPE})
  if not ct then return nil, ("%s: %s"):format(path, err) end
  compiled[key] = ct
  return ct
end

--- Render a template string with `env` (a table of variables; the standard globals
--- stay visible). Returns text or nil, message.
function M.render_string(text, env, name)
  local ct, err = compile(name or ("=" .. text:sub(1, 40)), text)
  if not ct then return nil, err end
  local out, rerr = ct:render(env, _G)
  if not out then return nil, ("%s: %s"):format(name or "template", rerr) end
  return out
end

--- Render the file `name` found under `kind` ("templates" or "prompts").
function M.render(kind, name, env)
  local path = paths.find(kind, name)
  if not path then return nil, ("%s file '%s' not found in %s"):format(kind, name, M.search_description(kind)) end
  local text, err = util.read_file(path)
  if not text then return nil, err end
  local ct, cerr = compile(path, text)
  if not ct then return nil, cerr end
  local out, rerr = ct:render(env, _G)
  if not out then return nil, ("%s: %s"):format(path, rerr) end
  return out, path
end

function M.search_description(kind)
  local dirs = {}
  for _, d in ipairs(paths.dirs(kind)) do dirs[#dirs + 1] = d.dir end
  return table.concat(dirs, ", ")
end

return M

-- commands/cache.lua — `sparkgen cache stats|clear|prune [--json]`: look after the
-- on-disk caches under cache.dir (model responses, and the schema snapshots when the
-- schema module keeps them there). `prune` drops expired and corrupt entries and
-- enforces the configured bounds; `clear` removes every entry.
local util = require "sparkgen.util"

local M = {}

M.summary = "Show, prune or clear the response and schema caches."

function M.setup(cmd, cli)
  cmd:argument("action", "stats, clear or prune."):choices({"stats", "clear", "prune"})
  cmd:option("--which", "Only this cache: responses or schema."):choices({"responses", "schema"})
  cli.add_output_options(cmd)
end

-- The caches that exist for cfg: list of {name=, dir=}. The schema cache is included
-- when schema.lua says where it lives, or when its conventional directory exists.
function M.caches(cfg)
  local llm = require "sparkgen.llm"
  local list = {{name = "responses", dir = llm.cache_dir(cfg)}}
  local ok, schema = pcall(require, "sparkgen.schema")
  local dir = ok and type(schema) == "table" and type(schema.cache_dir) == "function" and schema.cache_dir(cfg) or nil
  if not dir and util.dir_exists(cfg.cache.dir .. "/schema") then dir = cfg.cache.dir .. "/schema" end
  if dir then list[#list + 1] = {name = "schema", dir = dir} end
  return list
end

local function open(cfg, dir)
  local ok, cache = pcall(require, "sparkgen.cache")
  if not ok or type(cache.open) ~= "function" then return nil, "the cache primitive is not available" end
  local c = cfg.cache
  return cache.open{dir = dir, max_entries = c.max_entries, max_bytes = c.max_bytes, lru_entries = c.lru_entries}
end

local function human_bytes(n)
  n = tonumber(n) or 0
  if n < 1024 then return ("%d B"):format(n) end
  if n < 1024 * 1024 then return ("%.1f KiB"):format(n / 1024) end
  return ("%.1f MiB"):format(n / (1024 * 1024))
end

-- One line per cache: the counts the primitive reports, known ones first.
local function describe(name, dir, st)
  local parts = {}
  if type(st) == "table" then
    if st.entries then parts[#parts + 1] = ("%d entries"):format(st.entries) end
    if st.bytes then parts[#parts + 1] = human_bytes(st.bytes) end
    for _, k in ipairs(util.sorted_keys(st)) do
      local v = st[k]
      if k ~= "entries" and k ~= "bytes" and k ~= "dir" and (type(v) == "number" or type(v) == "boolean" or type(v) == "string") then
        parts[#parts + 1] = ("%s %s"):format(k:gsub("_", " "), tostring(v))
      end
    end
  elseif st ~= nil then
    parts[#parts + 1] = tostring(st)
  end
  return ("%-9s %s  (%s)"):format(name, table.concat(parts, ", "), dir)
end

function M.run(args, ctx)
  local cfg = ctx.config
  local out = ctx.stdout
  local report = {}
  for _, c in ipairs(M.caches(cfg)) do
    if not args.which or args.which == c.name then
      local h, err = open(cfg, c.dir)
      if not h then return nil, ("cache %s (%s): %s"):format(c.name, c.dir, tostring(err)) end
      local value
      if args.action == "stats" then
        value, err = h:stats()
      elseif args.action == "clear" then
        value, err = h:clear()
      else
        value, err = h:prune()
      end
      if value == nil and err then return nil, ("cache %s %s: %s"):format(c.name, args.action, tostring(err)) end
      local after = args.action == "stats" and value or h:stats()
      local entry = {name = c.name, dir = c.dir, stats = after}
      if args.action ~= "stats" then entry.result = value end
      report[#report + 1] = entry
      if h.close then h:close() end
    end
  end
  if args.json then
    out:write(util.json_encode({action = args.action, caches = util.array(report)}, 2), "\n")
    return 0
  end
  for _, e in ipairs(report) do
    local what = args.action == "stats" and "" or (args.action == "clear" and "cleared: " or "pruned: ")
    if args.action == "prune" and type(e.result) == "table" and e.result.removed then
      what = ("pruned %d: "):format(e.result.removed)
    end
    out:write(what, describe(e.name, e.dir, e.stats), "\n")
  end
  return 0
end

return M

-- commands/cache.lua — `sparkgen cache stats|clear|prune [--which KIND] [--json]`: look
-- after every cache under cache.dir. Each kind reports entries, bytes, damaged entries
-- and the hits and misses of every process since its last clear.
--   responses  model answers (a sparkgen.cache store, see llm/init.lua)
--   facts      the code analyser's facts per body (a sparkgen.cache store, lint.lua)
--              For both stores prune drops expired and damaged entries and evicts down
--              to the bounds; stats verifies every entry.
--   schema     catalog snapshots written by schema.lua (one directory per database and
--              schema selection): prune drops snapshots older than schema_ttl, damaged
--              ones and leftovers of interrupted writes. (Pruning removes what
--              --allow-stale would fall back on; that is the point of pruning.)
-- clear removes every entry of the chosen caches and starts their counts again; without
-- --which it also removes the bytecode directory older versions kept (cache.dir/bytecode).
local sys = require "sparkgen.sys"
local util = require "sparkgen.util"

local M = {}

M.summary = "Show, prune or clear the response, facts and schema caches."

local KINDS = {"responses", "facts", "schema"}

function M.setup(cmd, cli)
  cmd:argument("action", "stats, clear or prune."):choices({"stats", "clear", "prune"})
  cmd:option("--which", "Only this cache: " .. table.concat(KINDS, ", ", 1, #KINDS - 1) .. " or " ..
    KINDS[#KINDS] .. "."):choices(KINDS)
  cli.add_output_options(cmd)
end

-- ---- stores: responses and facts (sparkgen.cache) --------------------------------

-- A kind kept in a sparkgen.cache store; open(cfg) -> store or nil, message.
local function store_kind(dir, open)
  local kind = {dir = dir}
  function kind.run(cfg, action)
    local h, err = open(cfg)
    if not h then return nil, err end
    local result
    if action == "clear" then
      result, err = h:clear()
      if result == nil then return nil, err end
      result = {removed = result}
    elseif action == "prune" then
      result, err = h:prune()
      if result == nil then return nil, err end
    end
    local st, serr = h:stats()
    if not st then return nil, serr end
    return {entries = st.entries, bytes = st.bytes, broken = st.corrupt, max_entries = st.max_entries,
            max_bytes = st.max_bytes, hits = st.hits, misses = st.misses}, result
  end
  return kind
end

local responses = store_kind(function(cfg) return require("sparkgen.llm").cache_dir(cfg) end,
  function(cfg) return require("sparkgen.llm").cache(cfg) end)

local function facts_dir(cfg) return cfg.cache.dir .. "/facts" end
local facts = store_kind(facts_dir, function(cfg)
  sys.mkdir_p(facts_dir(cfg))
  local h = require("sparkgen.lint").open_facts_cache(facts_dir(cfg))
  if not h then return nil, "cannot open the facts cache" end
  return h
end)

-- ---- schema: snapshot directories -------------------------------------------------

local schema = {}

function schema.dir(cfg)
  return require("sparkgen.schema").cache_root(cfg)
end

local function tree_bytes(path)
  local st = sys.stat(path)
  if not st then return 0 end
  if st.type ~= "dir" then return st.size or 0 end
  local n = 0
  for _, name in ipairs(sys.listdir(path) or {}) do n = n + tree_bytes(path .. "/" .. name) end
  return n
end

-- Every snapshot directory: {path=, bytes=, stale=bool, broken=bool}.
local function snapshots(cfg)
  local dir = schema.dir(cfg)
  local out = {}
  local now = sys.now()
  for _, name in ipairs(sys.listdir(dir) or {}) do
    local path = dir .. "/" .. name
    -- alias/ maps connection strings to snapshot directories; it is not a snapshot.
    if name ~= "alias" and util.dir_exists(path) then
      -- Leftovers of an interrupted write (name.tmp.*, name.old.*) have a dotted name;
      -- they and snapshots whose files do not check out are broken.
      local meta = name:find(".", 1, true) == nil and require("sparkgen.schema").check_cache_dir(path)
      local broken = not meta
      local stale = not broken and (meta.captured_epoch + (tonumber(cfg.schema_ttl) or 0) < now)
      out[#out + 1] = {path = path, bytes = tree_bytes(path), stale = stale, broken = broken}
    end
  end
  return out
end

function schema.run(cfg, action)
  local result
  if action ~= "stats" then
    result = {removed = 0}
    for _, s in ipairs(snapshots(cfg)) do
      if action == "clear" or s.stale or s.broken then
        util.remove_tree(s.path)
        result.removed = result.removed + 1
      end
    end
    if action == "clear" then
      util.remove_tree(schema.dir(cfg) .. "/alias")
      require("sparkgen.schema").reset_tally(cfg)
    end
  end
  local counts = require("sparkgen.schema").tally(cfg)
  local st = {entries = 0, bytes = 0, stale = 0, broken = 0, hits = counts.hits, misses = counts.misses}
  for _, s in ipairs(snapshots(cfg)) do
    st.entries = st.entries + 1
    st.bytes = st.bytes + s.bytes
    if s.stale then st.stale = st.stale + 1 end
    if s.broken then st.broken = st.broken + 1 end
  end
  return st, result
end

-- ---------------------------------------------------------------------------------

M.CACHES = {{name = "responses", impl = responses}, {name = "facts", impl = facts}, {name = "schema", impl = schema}}

local function human_bytes(n)
  n = tonumber(n) or 0
  if n < 1024 then return ("%d B"):format(n) end
  if n < 1024 * 1024 then return ("%.1f KiB"):format(n / 1024) end
  return ("%.1f MiB"):format(n / (1024 * 1024))
end

local function line(e)
  local st = e.stats
  local parts = {("%d entries"):format(st.entries or 0), human_bytes(st.bytes)}
  if st.max_entries then
    parts[#parts + 1] = ("bounds %d entries / %s"):format(st.max_entries, human_bytes(st.max_bytes))
  end
  if st.stale and st.stale > 0 then parts[#parts + 1] = ("%d stale"):format(st.stale) end
  if st.broken and st.broken > 0 then parts[#parts + 1] = ("%d damaged"):format(st.broken) end
  parts[#parts + 1] = ("%d %s, %d %s"):format(st.hits or 0, st.hits == 1 and "hit" or "hits",
    st.misses or 0, st.misses == 1 and "miss" or "misses")
  local done = ""
  local r = e.result
  if r then
    if r.removed then
      done = ("removed %d; "):format(r.removed)
    else
      done = ("expired %d, evicted %d, corrupt %d; "):format(r.expired or 0, r.evicted or 0, r.corrupt or 0)
    end
  end
  return ("%-9s %s%s  (%s)"):format(e.name, done, table.concat(parts, ", "), e.dir)
end

function M.run(args, ctx)
  local cfg = ctx.config
  local report = {}
  if args.action == "clear" and not args.which then
    util.remove_tree(cfg.cache.dir .. "/bytecode") -- the bytecode cache of earlier builds; never read now
  end
  for _, c in ipairs(M.CACHES) do
    if not args.which or args.which == c.name then
      local dir = c.impl.dir(cfg)
      local st, result = c.impl.run(cfg, args.action)
      if not st then return nil, ("cache %s (%s): %s"):format(c.name, dir, tostring(result)) end
      report[#report + 1] = {name = c.name, dir = dir, stats = st, result = result}
    end
  end
  if args.json then
    ctx.stdout:write(util.json_encode({action = args.action, caches = util.array(report)}, 2), "\n")
  else
    for _, e in ipairs(report) do ctx.stdout:write(line(e), "\n") end
  end
  return 0
end

return M

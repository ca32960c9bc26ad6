-- schema_select.lua — which tables a model is shown for a request: the source, the
-- type's tables, their foreign-key neighbourhood and tables the request's words name,
-- most relevant first, within a budget. Works on any Schema (schema.lua) through
-- S:table, S:foreign_keys, S:_named and S:_word_candidates.
local names = require "sparkgen.schema_names"

local M = {}

local key_of, find_in = names.key, names.find_in

local function words_of(text)
  local words = {}
  for w in tostring(text or ""):lower():gmatch("[%w_]+") do
    if #w >= 3 then
      words[w] = true
      -- plural and singular spellings match each other ("orders" ~ "order")
      if w:sub(-1) == "s" then words[w:sub(1, -2)] = true else words[w .. "s"] = true end
      if w:sub(-3) == "ies" then words[w:sub(1, -4) .. "y"] = true end
    end
  end
  return words
end

-- How well a table name matches the request's words: whole name, then its parts.
local function name_score(name, words)
  local lname = name:lower()
  if words[lname] then return 3 end
  local hits = 0
  for part in lname:gmatch("[%w]+") do
    if #part >= 3 and words[part] then hits = hits + 1 end
  end
  return hits > 0 and math.min(hits, 2) or 0
end

-- The foreign-key neighbourhood of `seeds` ({t =, depth =} in the order found), breadth
-- first, bounded depth and bounded fetches. It does not depend on the request's words,
-- so it is worked out once per schema object and seed list: every request of a batch
-- from one source has the same one.
local hoods = setmetatable({}, {__mode = "k"})
local function neighbourhood(S, seeds, budget)
  local ids = {}
  for i, t in ipairs(seeds) do ids[i] = key_of(t.schema, t.name) end
  local id = table.concat(ids, "\0") .. "\0" .. budget
  local memo = hoods[S]
  if memo and memo[id] then return memo[id] end
  if not memo or memo.n >= 256 then memo = {n = 0}; hoods[S] = memo end
  local seen, out = {}, {}
  for i = 1, #ids do seen[ids[i]] = true end
  local frontier, fetches = seeds, 0
  for depth = 1, 2 do
    local next_frontier = {}
    for _, t in ipairs(frontier) do
      if fetches >= budget * 2 then break end
      fetches = fetches + 1
      local rel = S:foreign_keys(t)
      for _, dir in ipairs(rel and {rel.outgoing, rel.incoming} or {}) do
        for _, fk in ipairs(dir) do
          for _, ref in ipairs({{fk.ref_schema, fk.ref_table}, {fk.schema, fk.table}}) do
            if ref[1] and ref[2] then
              local n = find_in(S:_named(ref[2]), ref[1])
              local k = n and key_of(n.schema, n.name)
              if n and not seen[k] then
                seen[k] = true
                out[#out + 1] = {t = n, depth = depth}
                next_frontier[#next_frontier + 1] = n
              end
            end
          end
        end
      end
    end
    frontier = next_frontier
  end
  memo[id], memo.n = out, memo.n + 1
  return out
end

--- The tables to describe to a model, most relevant first, at most `budget`:
--- select{source = table|name, tables = {names...}, text = "request", budget = 40}.
--- Order: the source; the type's tables; foreign-key neighbours of those (both
--- directions, depth 1 then 2); tables whose names match the request's words.
function M.select(S, opts)
  opts = opts or {}
  local budget = opts.budget or 40
  local chosen, order = {}, {}
  local function add(t, score)
    if not t then return end
    local k = key_of(t.schema, t.name)
    if chosen[k] == nil then
      chosen[k] = {t = t, score = score, seq = #order + 1}
      order[#order + 1] = chosen[k]
    elseif score > chosen[k].score then
      chosen[k].score = score
    end
  end
  local words = words_of(opts.text)
  local seeds = {}
  if opts.source then
    local src = type(opts.source) == "table" and opts.source or S:table(opts.source)
    if src then
      add(src, 1000)
      seeds[#seeds + 1] = src
    end
  end
  for _, name in ipairs(opts.tables or {}) do
    local t = S:table(name)
    if t then
      add(t, 900)
      seeds[#seeds + 1] = t
    end
  end
  -- Foreign-key neighbours the request also names rank above the others.
  for _, h in ipairs(neighbourhood(S, seeds, budget)) do
    if not chosen[key_of(h.t.schema, h.t.name)] then
      add(h.t, (h.depth == 1 and 500 or 200) + 10 * name_score(h.t.name, words))
    end
  end
  -- Tables whose names the request mentions: only those tables are looked at
  -- (S:_word_candidates), not every name of the catalog.
  if next(words) then
    for _, e in ipairs(S:_word_candidates(words)) do
      local s = name_score(e.name, words)
      if s > 0 then add(find_in(S:_named(e.name), e.schema), 100 + 10 * s) end
    end
  end
  table.sort(order, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.seq < b.seq
  end)
  local out = {}
  for i = 1, math.min(budget, #order) do out[i] = order[i].t end
  return out
end

return M

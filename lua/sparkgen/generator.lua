-- generator.lua — the pipeline: request → schema → type → (template | prompt → model)
-- → lint → bounded repair loop → checks → GeneratedCode.
--
-- One code path serves one request and a batch: `generate` is `generate_all` with a
-- single request. Model calls of a batch go out in parallel (llm.complete_many); each
-- repair round sends only the requests whose code still has findings. Nothing that fails
-- the lint gate is returned as good: such a result has ok = false and its findings.
local log = require "sparkgen.log"
local sys = require "sparkgen.sys"
local types = require "sparkgen.types"
local util = require "sparkgen.util"

local M = {}

local function lazy(name)
  return setmetatable({}, {__index = function(_, k) return require(name)[k] end})
end
local schema_mod = lazy "sparkgen.schema"
local checks = lazy "sparkgen.checks"
local template = lazy "sparkgen.template"

--- A word that looks like a type name but is not one is a typo, not a free-form request.
local function looks_like_type_name(word)
  return word:match("^[%a_][%w_]*$") ~= nil
end

local schema_cache = {}
--- The schema for cfg, opened once per process (the same object for every request).
local function open_schema(cfg)
  local key = table.concat({tostring(cfg.schema), tostring(cfg.db), tostring(cfg.refresh)}, "\0")
  if schema_cache[key] then return schema_cache[key] end
  local S, err = schema_mod.open(cfg)
  if not S then return nil, err end
  schema_cache[key] = S
  return S
end

M.schema = open_schema

--- Replace the process's schema `old` by `new` (schema_refresh.lua, after a refresh).
function M.replace_schema(old, new)
  for k, v in pairs(schema_cache) do if v == old then schema_cache[k] = new end end
end

--- Resolve a request: {source=, type=, text=, context=, tables=} → prepared request or
--- nil, err. `tables` (and config `tables`) map the type's table names to this
--- database's. Used by generate, `sparkgen prompt` and eval.
function M.prepare(req, cfg)
  if type(req) ~= "table" then error("generator.prepare: request must be a table", 2) end
  if type(req.source) ~= "string" or req.source == "" then
    return nil, "a request needs a source table"
  end
  -- Only the type the request names is loaded; the other plugins are vouched for
  -- (registry.lua: a broken one is still reported, an unchanged one costs a stat).
  local typedef, text = nil, req.text
  if req.type and (looks_like_type_name(req.type) or types.has_file(req.type)) then
    local def, err = types.get(req.type, {strict = cfg.strict})
    if not def then
      if looks_like_type_name(req.type) and not err:find("^broken") then
        err = err .. " (a free-form request has spaces: \"monthly revenue per category\")"
      end
      return nil, err
    end
    typedef = def
  elseif req.type then
    text = req.type
  end
  if not typedef and not text then return nil, "a request needs a type or a free-form text" end
  for _, kind in ipairs({types, checks}) do
    local ok, err = kind.check_all{strict = cfg.strict}
    if not ok then return nil, err end
  end

  -- The config's table map names tables of every type, so it needs them all.
  local reg = {list = {}}
  if next(cfg.tables or {}) then
    local rerr
    reg, rerr = types.load_all{strict = cfg.strict}
    if not reg then return nil, rerr end
  end
  local map, merr = require("sparkgen.request").table_map(reg, typedef, req.source, cfg.tables, req.tables)
  if not map then return nil, merr end
  local function mapped(name) return map[name] or name end

  local S, serr = open_schema(cfg)
  if not S then return nil, serr end
  local source, terr = S:table(mapped(req.source))
  if not source then return nil, terr end

  local context, cerr
  if typedef then
    context, cerr = types.resolve_context(typedef, req.context or {})
    if not context then return nil, cerr end
  else
    context = util.copy(req.context or {})
    if context.as_of == nil then context.as_of = util.today() end
  end

  -- The tables a type names must exist, or its code cannot run.
  local missing, type_tables = {}, {}
  for i, name in ipairs(typedef and typedef.tables or {}) do
    type_tables[i] = mapped(name)
    if not S:table(mapped(name)) then
      missing[#missing + 1] = map[name] and ("%s (mapped to %s)"):format(name, map[name]) or name
    end
  end

  local tables = S:select{source = source, tables = type_tables,
                          text = text or (typedef and typedef.summary) or "",
                          budget = cfg.prompt_table_budget}
  local fks = {}
  for _, t in ipairs(tables) do
    local rel = S:foreign_keys(t)
    for _, fk in ipairs(rel and rel.outgoing or {}) do fks[#fks + 1] = fk end
  end
  return {
    request = {source = req.source, type = typedef and typedef.name or nil, text = text, context = context,
               tables = next(map) and map or nil},
    typedef = typedef, schema = S, source_table = source, tables = tables, foreign_keys = fks,
    missing_tables = missing, table_map = map,
  }
end

--- template | anthropic | openai, or nil, message saying what to set.
function M.choose_provider(prep, cfg)
  local typedef = prep.typedef
  local config = require "sparkgen.config"
  local wanted = cfg.provider or nil
  if wanted == "template" or (not wanted and typedef and typedef.template) then
    if not typedef then
      return nil, "a free-form request needs a model: set ANTHROPIC_API_KEY (or use --provider openai with a local server)"
    end
    if not typedef.template then
      return nil, ("type '%s' has no template, so it needs a model: set ANTHROPIC_API_KEY " ..
        "(export ANTHROPIC_API_KEY=...) or use --provider openai"):format(typedef.name)
    end
    return "template"
  end
  local provider = wanted or "anthropic"
  if provider == "anthropic" and not config.api_key("anthropic", cfg) then
    local what = typedef and ("type '%s' has no template"):format(typedef.name) or "a free-form request needs a model"
    return nil, ("%s and ANTHROPIC_API_KEY is not set: export ANTHROPIC_API_KEY=... " ..
      "(or use --provider openai for an OpenAI-compatible server)"):format(what)
  end
  return provider
end

local function empty_usage()
  return {input_tokens = 0, output_tokens = 0, cache_creation_input_tokens = 0, cache_read_input_tokens = 0}
end

local function add_usage(into, u)
  for k in pairs(into) do into[k] = into[k] + (tonumber(u and u[k]) or 0) end
end


-- Lint code without waiting for the analyser: cb(report) runs when the facts are in
-- (see lint.check_async), so the model requests of a batch stay in flight meanwhile.
local function lint_code(code, prep, cfg, cb)
  local lint = require "sparkgen.lint"
  lint.check_async(code, {schema = prep.schema, policy = cfg.lint,
    cache_dir = cfg.cache.enabled ~= false and (cfg.cache.dir .. "/facts") or nil}, function(report, err)
    if not report then
      -- Fail closed: code that could not be checked is not code we vouch for.
      report = {ok = false, findings = {{id = "syntax-error", severity = "error", line = 1,
                message = "the code could not be checked: " .. tostring(err), suggestions = util.array({})}}}
    end
    cb(report)
  end)
end

local function finding_warnings(report)
  local out = {}
  for _, f in ipairs(report.findings or {}) do
    if f.severity == "warning" then
      out[#out + 1] = ("%s%s: %s"):format(f.line and ("line " .. f.line .. ": ") or "", f.id, f.message)
    end
  end
  return out
end

local function errors_of(report)
  local out = {}
  for _, f in ipairs(report.findings or {}) do
    if f.severity ~= "warning" then out[#out + 1] = f end
  end
  return out
end

-- The plan check (plancheck.lua) of code that passed lint: its findings are errors
-- like lint's. Returns the findings (empty when it passed or could not decide) and
-- records what happened in `state` ({checks, rejections, seconds, status, reason,
-- columns, warnings}).
local function plan_check(code, prep, report, cfg, state, provider)
  local plancheck = require "sparkgen.plancheck"
  local pc, err = plancheck.check(cfg, {code = code, request = prep.request, tables_used = report.tables_used,
                                        provider = provider}, prep.schema, prep.typedef)
  state.checks = state.checks + 1
  if not pc then
    state.status, state.reason = "error", err
    state.warnings[#state.warnings + 1] = "the plan check could not run: " .. tostring(err)
    return {}
  end
  state.seconds = state.seconds + pc.seconds
  for _, w in ipairs(pc.warnings or {}) do state.warnings[#state.warnings + 1] = w end
  if #pc.findings > 0 then
    state.rejections = state.rejections + 1
    state.status = "rejected"
  else
    state.status = #(pc.warnings or {}) > 0 and "inconclusive" or "passed"
    state.columns = pc.columns
  end
  log.info("generate.plan_check", {source = prep.request.source, status = state.status,
                                  findings = #pc.findings, seconds = pc.seconds})
  return pc.findings
end

local function new_plan_state(plan)
  return {status = plan.on and "pending" or "off", reason = not plan.on and plan.why or nil,
          checks = 0, rejections = 0, seconds = 0, warnings = {}}
end

-- Lint passed: when the plan check is on, analyse the code on Spark and add its
-- findings to the report (they repair like lint's). Returns the report's errors.
local function gate(code, prep, report, cfg, plan, state, provider)
  local errors = errors_of(report)
  if #errors == 0 and plan.on then
    errors = plan_check(code, prep, report, cfg, state, provider)
    for _, f in ipairs(errors) do report.findings[#report.findings + 1] = f end
  end
  return errors
end

--- Finish a result from code + lint report (shared by template and model paths).
local function finish(prep, base, report, cfg)
  local typedef = prep.typedef
  local result = base
  result.request = prep.request
  result.tables_used = util.array(report.tables_used or (typedef and util.copy(typedef.tables or {})) or {})
  result.estimated_complexity = report.complexity or base.estimated_complexity or (typedef and typedef.complexity) or "medium"
  result.findings = util.array(errors_of(report))
  result.warnings = result.warnings or util.array({})
  for _, w in ipairs(finding_warnings(report)) do result.warnings[#result.warnings + 1] = w end
  for _, name in ipairs(prep.missing_tables or {}) do
    result.warnings[#result.warnings + 1] = ("type '%s' names table '%s', which is not in the schema"):format(typedef.name, name)
  end
  result.ok = #result.findings == 0
  if not result.ok and cfg.keep_invalid then result.kept_invalid = true end
  local state = base.plan_state
  if state then
    for _, w in ipairs(state.warnings) do result.warnings[#result.warnings + 1] = w end
    result.plan_check = {status = state.status, checks = state.checks, rejections = state.rejections,
                         seconds = state.seconds, reason = state.reason, columns = state.columns}
    result.checked = util.array(state.checks > 0 and {"lint", "plan"} or {"lint"})
    result.plan_state = nil
  end
  if result.cost_usd == nil then result.cost_usd = 0 end -- a template costs nothing
  return result
end

-- A check parameter written "$(key)" takes the request's context value, so the context
-- must be passed along (see checks.lua).
local function resolve_type_checks(typedef, context)
  if not typedef or not typedef.checks then return util.array({}) end
  local resolved, err = checks.resolve(typedef.checks, context)
  if not resolved then return nil, ("type '%s': %s"):format(typedef.name, err) end
  return util.array(resolved)
end

-- The template's result, to cb(result) or cb(nil, message) once its code is linted.
local function from_template(prep, cfg, plan, cb)
  local typedef = prep.typedef
  if #prep.missing_tables > 0 then
    return cb(nil, ("type '%s' needs table%s %s, not found in the schema (%s); if this database names "
      .. "them differently, map them: --table NAME=SCHEMA.TABLE, or tables = {NAME = \"schema.table\"} "
      .. "in sparkgen.lua"):format(typedef.name,
      #prep.missing_tables > 1 and "s" or "", table.concat(prep.missing_tables, ", "),
      prep.schema:describe_source()))
  end
  local names = {}
  for _, name in ipairs(typedef.tables or {}) do
    names[name] = schema_mod.read_table_name(prep.schema:table(prep.table_map[name] or name))
  end
  local env = {context = prep.request.context, params = prep.request.context,
               source = schema_mod.read_table_name(prep.source_table), tables = names}
  local code, err = template.render("templates", typedef.template, env)
  if not code then return cb(nil, err) end
  local description = typedef.summary
  if typedef.description then
    local derr
    description, derr = template.render_string(typedef.description, prep.request.context,
      "@" .. typedef.path, function() return types.description_line(typedef) end)
    if not description then return cb(nil, ("type '%s': description: %s"):format(typedef.name, derr)) end
  end
  local vchecks, cerr = resolve_type_checks(typedef, prep.request.context)
  if not vchecks then return cb(nil, cerr) end
  lint_code(code, prep, cfg, function(report)
    local state = new_plan_state(plan)
    gate(code, prep, report, cfg, plan, state, "template")
    cb(finish(prep, {
      code = code, description = util.trim(description), validation_checks = vchecks,
      provider = "template", model = util.json_null, usage = empty_usage(),
      request_ids = util.array({}), cached = false, attempts = 1, warnings = util.array({}),
      plan_state = state,
    }, report, cfg))
  end)
end

-- Model output → code and claims, normalised; code fences stripped.
local function normalise_output(out)
  local code = type(out.code) == "string" and out.code or ""
  code = code:gsub("^%s*```[%w]*\n", ""):gsub("\n```%s*$", "\n")
  return {
    code = code,
    description = type(out.description) == "string" and out.description or "",
    tables_used = type(out.tables_used) == "table" and out.tables_used or {},
    estimated_complexity = type(out.estimated_complexity) == "string" and out.estimated_complexity or nil,
    validation_checks = type(out.validation_checks) == "table" and out.validation_checks or {},
  }
end

-- The type's checks plus the model's valid extra ones; invalid ones become warnings.
local function merge_checks(typedef_checks, model_checks, warnings, context)
  local out, seen = util.array({}), {}
  local function key(c) return util.json_encode(c) end
  for _, c in ipairs(typedef_checks) do out[#out + 1] = c; seen[key(c)] = true end
  for _, spec in ipairs(model_checks) do
    if type(spec) == "table" and spec.rule == "note" then
      -- Prose the model offered as a check (llm.salvage): kept and shown, never enforced.
      out[#out + 1] = {rule = "note", description = tostring(spec.description)}
      warnings[#warnings + 1] = "the model wrote a validation check as prose; kept as a note, not enforced: "
        .. tostring(spec.description)
    elseif type(spec) == "table" then
      local flat = util.copy(spec)
      if type(spec.params) == "table" then
        flat.params = nil
        for k, v in pairs(spec.params) do flat[k] = v end
      end
      flat.description = nil
      local resolved, err = checks.resolve({flat}, context)
      if resolved then
        local k = key(resolved[1])
        if not seen[k] then out[#out + 1] = resolved[1]; seen[k] = true end
      else
        warnings[#warnings + 1] = "dropped a validation check proposed by the model: " .. tostring(err)
      end
    end
  end
  return out
end

M.WINDOW_MIN = 64

--- Generate many requests; results in input order, each {result=} or {error=}.
--- opts: {concurrency=, on_progress=function(progress), on_result=function(i, outcome),
---        no_cache=, record_dir=, replay_dir=, window=, via_batch=, batch_repairs=,
---        purpose = "generate"|"eval"|"candidates" (what plan_check = "auto" decides on)}
--- (via_batch: a Message Batch transport from llm/batches.lua for the model calls;
--- batch_repairs: repairs go through it too instead of synchronously)
--- A request may carry variant = {index=, total=} (candidates.lua): candidate k > 1 is
--- asked for an independent answer at temperature 1, a request of its own.
--- With on_result, each outcome is handed over as soon as it is final (in completion
--- order) and not kept: generate_all then returns nil, progress, and a batch's memory
--- does not grow with its length.
---
--- The batch streams through the transport: whenever a slot frees, the next request
--- is prepared and sent (a repair first), and each model answer is linted as it
--- arrives while the others are in flight. No request is started more than `window`
--- places (default 4 x concurrency, at least 64) after the oldest one not yet
--- reported, so what is alive at once (prompts, answers, rows held for input order)
--- does not grow with the batch. Through a Message Batch (via_batch) the requests go
--- in lists of up to `window`.
function M.generate_all(requests, cfg, opts)
  opts = opts or {}
  local n = #requests
  local outcomes = not opts.on_result and {} or nil
  local progress = {total = n, done = 0, failed = 0, cached = 0, tokens_in = 0, tokens_out = 0}
  -- Every outcome, ok or not, goes to the history (history.lua), one transaction per
  -- window; p (model-bound requests) gives the provider and the last request sent.
  local recorder = require("sparkgen.history").recorder(cfg)
  local started = sys.monotonic()
  local low, reported = 1, {} -- every request before low is reported
  local function report_progress(i, outcome, p)
    reported[i] = true
    while reported[low] do
      reported[low], low = nil, low + 1
    end
    if outcomes then outcomes[i] = outcome end
    if recorder then
      recorder:add{request = requests[i], result = outcome.result, error = outcome.error,
                   usage = outcome.usage, model = outcome.model, provider = p and p.provider,
                   prompt = p and p.request,
                   duration_s = sys.monotonic() - started}
    end
    progress.done = progress.done + 1
    if outcome.error or (outcome.result and not outcome.result.ok) then progress.failed = progress.failed + 1 end
    local r = outcome.result
    if r and r.cached then progress.cached = progress.cached + 1 end
    local u = (r and r.usage) or outcome.usage
    if u then
      progress.tokens_in = progress.tokens_in + (u.input_tokens or 0)
      progress.tokens_out = progress.tokens_out + (u.output_tokens or 0)
    end
    if opts.on_result then opts.on_result(i, outcome) end
    if opts.on_progress then opts.on_progress(progress) end
  end

  local plan_on, plan_why = require("sparkgen.plancheck").mode(cfg, opts.purpose or "generate")
  if plan_on == nil then
    for i = 1, n do report_progress(i, {error = plan_why}) end
    return outcomes, progress
  end
  local plan = {on = plan_on, why = plan_why}
  local lint = require "sparkgen.lint"
  local concurrency = opts.concurrency or cfg.http.concurrency
  local window = math.tointeger(opts.window) or math.max(4 * (math.tointeger(concurrency) or 8), M.WINDOW_MIN)
  local max_repairs = math.tointeger(cfg.max_repairs) or 2
  local no_cache = opts.no_cache or cfg.cache.enabled == false
  local rules, memo -- once per batch: the rule list and the prompt parts requests share

  local llm = require "sparkgen.llm"
  -- A model answer for p: lint it (asynchronously), then either queue a repair or finish.
  local repairs = {}
  -- What p's answers cost so far: the sum of each one's cost (llm prices every billed
  -- attempt, a Message Batch item at the batch price); unknown once any is unknown.
  local function add_cost(p, a)
    if not a then return end
    if a.cost_note or a.cost_usd == util.json_null then
      p.cost_note = p.cost_note or a.cost_note or "price unknown"
    else
      p.cost = (p.cost or 0) + (tonumber(a.cost_usd) or 0)
    end
  end
  local function cost_of(p)
    if p.cost_note then return util.json_null, p.cost_note end
    return p.cost or 0
  end

  local function on_answer(p, res, err, failed)
    add_cost(p, res or failed)
    if not res then
      -- A failed request still cost what its billed attempts cost.
      add_usage(p.usage, failed and failed.usage)
      for _, id in ipairs(failed and failed.request_ids or {}) do p.request_ids[#p.request_ids + 1] = id end
      local usd, note = cost_of(p)
      return report_progress(p.i, {error = err or "the model gave no answer", usage = p.usage,
                                   request_ids = p.request_ids, model = llm.provider(p.cfg).model(p.cfg),
                                   cost_usd = usd, cost_note = note}, p)
    end
    -- attempts counts generation rounds (first answer + repairs), cached or not;
    -- HTTP retries inside one round are the transport's business.
    p.attempts = p.attempts + 1
    add_usage(p.usage, res.usage)
    for _, id in ipairs(res.request_ids or {}) do p.request_ids[#p.request_ids + 1] = id end
    if not res.cached then p.all_cached = false end
    if res.max_tokens_raised then
      p.warnings[#p.warnings + 1] = ("the answer was cut at max_tokens=%d and asked again with max_tokens=%d")
        :format(res.max_tokens_raised.from, res.max_tokens_raised.to)
    end
    local out = normalise_output(res.output or {})
    lint_code(out.code, p.prep, cfg, function(report)
      local errors = gate(out.code, p.prep, report, cfg, plan, p.plan_state, p.provider)
      if #errors > 0 and p.round < max_repairs then
        log.info("generate.repair", {source = p.prep.request.source, round = p.round + 1, findings = #errors})
        local request, rerr = require("sparkgen.prompt").repair(p.base, {code = out.code, findings = errors})
        if not request then return report_progress(p.i, {error = rerr}, p) end
        p.request = request
        -- The model repeated code it was asked to fix: the repair request is the one
        -- already sent, so its cached answer is that same code. Ask again instead.
        p.request.fresh = p.last_code == out.code or nil
        p.last_code = out.code
        p.round = p.round + 1
        repairs[#repairs + 1] = p
        return
      end
      local warnings = p.warnings
      for _, w in ipairs(lint.model_claims(report, out)) do
        warnings[#warnings + 1] = w.message
      end
      report_progress(p.i, {result = finish(p.prep, {
        code = out.code, description = out.description,
        estimated_complexity = out.estimated_complexity,
        validation_checks = merge_checks(p.type_checks, out.validation_checks, warnings, p.prep.request.context),
        provider = p.provider, model = res.model, usage = p.usage, request_ids = p.request_ids,
        cached = p.all_cached, attempts = p.attempts, warnings = warnings, plan_state = p.plan_state,
        cost_usd = (cost_of(p)), cost_note = p.cost_note, message_batch = res.message_batch,
      }, report, cfg)}, p)
    end)
  end

  local provider_cfgs = {} -- provider → the config for it (cfg with that provider)
  -- Prepare request i: template ones are linted and finish on their own; model-bound
  -- ones are returned with their prompt built.
  local function prepare(i)
    local req = requests[i]
    local span = log.span("generate.prepare", {source = req.source, type = req.type})
    local prep, err = M.prepare(req, cfg)
    local provider
    if prep then provider, err = M.choose_provider(prep, cfg) end
    if not prep or not provider then
      span:fail(err)
      return report_progress(i, {error = err})
    elseif provider == "template" then
      span:done("ok", {provider = "template"})
      return from_template(prep, cfg, plan, function(result, terr)
        report_progress(i, result and {result = result} or {error = terr})
      end)
    end
    span:done("ok", {provider = provider})
    local pcfg = cfg
    if provider ~= cfg.provider then
      -- One copy per provider for the whole batch, not one per request.
      pcfg = provider_cfgs[provider]
      if not pcfg then pcfg = util.copy(cfg); pcfg.provider = provider; provider_cfgs[provider] = pcfg end
    end
    local vchecks, cerr = resolve_type_checks(prep.typedef, prep.request.context)
    if not vchecks then return report_progress(i, {error = cerr}) end
    if not rules then rules, memo = checks.summaries(), {} end
    local base, perr = require("sparkgen.prompt").build{request = prep.request, typedef = prep.typedef,
      tables = prep.tables, foreign_keys = prep.foreign_keys, schema = prep.schema, rules = rules,
      cfg = pcfg, memo = memo}
    if not base then return report_progress(i, {error = perr}) end
    if req.variant and req.variant.index > 1 then
      -- One of several candidates: its own request, so its own answer and cache entry.
      base = util.copy(base)
      base.user = base.user .. ("\n\nThis is independent answer %d of %d to the same request: "
        .. "work it out on your own; a different correct approach is welcome."):format(req.variant.index, req.variant.total)
      base.temperature = 1
    end
    return {i = i, prep = prep, provider = provider, cfg = pcfg, type_checks = vchecks, base = base,
            request = base, usage = empty_usage(), request_ids = util.array({}), attempts = 0,
            all_cached = true, warnings = util.array({}), round = 0, plan_state = new_plan_state(plan)}
  end

  -- A request is started no more than `window` places after the oldest one not yet
  -- reported, whatever is in flight, being linted or held back by the caller for input
  -- order: that bounds what is alive at once however long the batch is.
  -- ready: requests prepared ahead (FIFO), a few per answer while the answers are
  -- handled, so a freed slot gets its next request without building a prompt first.
  local next_i, ready, head, tail = 1, {}, 1, 0
  local function open() return next_i <= n and next_i < low + window end
  local function prepare_next()
    while open() do
      local p = prepare(next_i)
      next_i = next_i + 1
      if p then
        tail = tail + 1
        ready[tail] = p
        return
      end
    end
  end
  local ahead = math.max(math.tointeger(concurrency) or 8, 1)
  local function prefetch()
    if tail - head + 1 < ahead then prepare_next() end
  end
  -- The next model-bound request: a repair first (its slot is owed), then the prepared
  -- ones in order; only for `provider` when one is given (one for another provider
  -- waits for the next stream).
  local function take(provider)
    local p = repairs[1]
    if p and (not provider or p.provider == provider) then return table.remove(repairs, 1) end
    if not ready[head] then
      if next_i <= n and not open() then lint.poll(0) end -- answers linted meanwhile free the window
      prepare_next()
    end
    p = ready[head]
    if not p or (provider and p.provider ~= provider) then return nil end
    ready[head], head = nil, head + 1
    return p
  end

  while true do
    local first = take()
    if not first then
      -- Nothing to send: the answers still being linted may ask for repairs or free
      -- the window.
      lint.wait()
      first = take()
      if not first then break end
    end
    local provider = first.provider
    local by_i, count = {first}, 1 -- complete_many's numbering: this call's requests
    local function done(i, res, err, a)
      local p = by_i[i]
      if not p then return end
      by_i[i] = nil
      on_answer(p, res, err, a)
      lint.poll(0) -- hand over what the analysers have finished meanwhile
      prefetch()
    end
    local list, more = {first.request}, nil
    -- Through a Message Batch (opts.via_batch) the requests go as one list: first
    -- attempts always, repairs only with opts.batch_repairs (else synchronously).
    local via = opts.via_batch
    if via then
      while #list < window do
        local p = take(provider)
        if not p then break end
        count = count + 1
        by_i[count], list[count] = p, p.request
      end
      if not opts.batch_repairs then
        for _, p in pairs(by_i) do if p.round > 0 then via = nil end end
      end
    elseif n > 1 then
      -- Otherwise the batch streams: the transport asks for the next request whenever a
      -- slot is free, so prompts are built while answers are in flight and no request
      -- waits for the slowest one of a group. (A single request has nothing to stream,
      -- and a stream opens the HTTP transport even when the cache answers: libcurl and
      -- its thirty libraries, ~4 ms of a cache-hit generate. Its repairs, if any, go
      -- out through the loop above.)
      function more()
        local p = take(provider)
        if not p then return nil end
        count = count + 1
        by_i[count] = p
        return p.request
      end
    end
    local answers = llm.complete_many(first.cfg, list, {
      concurrency = concurrency, no_cache = no_cache, record_dir = opts.record_dir,
      replay_dir = opts.replay_dir, on_done = done, more = more, via_batch = via,
      via_batch_retries = opts.batch_repairs and true or false})
    for k = 1, #list do
      if by_i[k] then
        local a = answers[k] or {}
        done(k, a.res or a.result, a.err or a.error, a)
      end
    end
  end
  lint.wait()
  if recorder then recorder:flush() end
  return outcomes, progress
end

--- Generate one request: result or nil, message. A result whose code failed the lint
--- gate is returned with ok = false (callers must not present it as good).
function M.generate(req, cfg, opts)
  if (cfg.candidates or 1) > 1 then return require("sparkgen.candidates").generate(req, cfg, opts) end
  local outcomes = M.generate_all({req}, cfg, opts)
  local o = outcomes[1]
  if o.error then
    -- What the failed attempts were billed is part of the answer, not lost with it.
    local u = o.usage
    if u and ((u.input_tokens or 0) + (u.output_tokens or 0)) > 0 then
      return nil, ("%s (billed: %d input / %d output tokens)"):format(o.error, u.input_tokens or 0, u.output_tokens or 0)
    end
    return nil, o.error
  end
  return o.result
end

return M

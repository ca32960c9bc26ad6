-- commands/man.lua — `sparkgen man`: the manual page in roff, built from the command
-- line's own help (every command, its arguments and options) plus the environment,
-- files and exit status. `make install` installs it as share/man/man1/sparkgen.1.
--   sparkgen man | man -l -
local M = {}

M.summary = "Print the manual page (roff), for man(1)."

function M.setup() end

-- Text as roff: backslashes doubled, a leading dot or quote made literal.
local function roff(text)
  text = text:gsub("\\", "\\e")
  text = text:gsub("\n([.'])", "\n\\&%1"):gsub("^([.'])", "\\&%1")
  return text
end

local ENVIRONMENT = {
  {"ANTHROPIC_API_KEY", "The key for Claude (never read from a file, never written anywhere)."},
  {"ANTHROPIC_BASE_URL, OPENAI_BASE_URL, OPENAI_API_KEY", "The model endpoints."},
  {"DATABASE_URL, PGHOST, PGDATABASE, PGUSER, PGSERVICE, ...", "The PostgreSQL database, as libpq reads them."},
  {"SPARKGEN_DB, SPARKGEN_SCHEMA, SPARKGEN_PROVIDER, SPARKGEN_MODEL, SPARKGEN_LOG", "Configuration keys."},
  {"SPARKGEN_PATH", "Colon-separated user roots (types/, rules/, prompts/, templates/)."},
  {"SPARKGEN_CACHE_DIR", "The cache directory (default $XDG_CACHE_HOME/sparkgen)."},
  {"XDG_CONFIG_HOME, XDG_CACHE_HOME, XDG_DATA_HOME", "Where the user config, the caches and the history live."},
}

local FILES = {
  {"./sparkgen.lua", "The project configuration (sparkgen init writes one)."},
  {"$XDG_CONFIG_HOME/sparkgen/config.lua", "The user configuration."},
  {"$XDG_CACHE_HOME/sparkgen/", "Model responses, schema snapshots, analyser facts."},
  {"$XDG_DATA_HOME/sparkgen/history.db", "The history of generations (sparkgen log)."},
}

function M.run(_, ctx)
  local p = ctx.parser
  local host = ctx.host or {}
  local out = {}
  local function w(...) for i = 1, select("#", ...) do out[#out + 1] = select(i, ...) end end
  w('.TH SPARKGEN 1 "" "sparkgen ', tostring(host.version or ""), '" "User Commands"\n')
  w(".SH NAME\nsparkgen \\- turn data-transformation requests into reviewed, runnable PySpark code\n")
  w(".SH SYNOPSIS\n.B sparkgen\n[\\fIoptions\\fR] \\fIcommand\\fR [\\fIarguments\\fR]\n")
  w(".SH DESCRIPTION\n", roff("sparkgen reads the real schema from PostgreSQL, asks Claude (or uses a "
    .. "deterministic template), checks the code against the schema and a safety policy, repairs it when the "
    .. "checks fail, and writes a complete spark-submit job that runs the validation rules on its own output."),
    "\n.SH COMMANDS\n")
  for _, cmd in ipairs(p._commands or {}) do
    w(".SS ", roff(cmd._name), "\n.nf\n", roff(cmd:get_help()), "\n.fi\n")
  end
  w(".SH ENVIRONMENT\n")
  for _, e in ipairs(ENVIRONMENT) do w(".TP\n.B ", roff(e[1]), "\n", roff(e[2]), "\n") end
  w(".SH FILES\n")
  for _, f in ipairs(FILES) do w(".TP\n.I ", roff(f[1]), "\n", roff(f[2]), "\n") end
  w(".SH EXIT STATUS\n", roff("0 success; 1 failure (bad input, unreachable database, model error, code "
    .. "that failed its checks, a job that failed, differences for schema diff and log diff); 2 usage error; "
    .. "3 a job ran but one of its validation checks failed. Every expected failure is one line on stderr: "
    .. "sparkgen: what went wrong."), "\n")
  w(".SH SEE ALSO\n", roff("The README and docs/internals.md in the sparkgen source tree."), "\n")
  ctx.stdout:write(table.concat(out))
  return 0
end

return M

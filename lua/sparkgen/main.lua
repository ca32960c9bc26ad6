-- main.lua — the engine's entry point. The C host calls main{argv=, program=, root=,
-- version=} and exits with the status returned. Expected failures come back from the
-- CLI as an exit status; anything raised here is a bug and is reported by the host
-- with a traceback.
--
-- The engine's modules (and argparse) are compiled into the binary at build
-- time and served from package.preload (see the Makefile and tools/luaembed.c): no
-- bytecode is read from a cache directory, and none of it is parsed at start-up.
local M = {}

function M.main(host)
  local paths = require "sparkgen.paths"
  paths.setup{builtin = host.root}
  local cli = require "sparkgen.cli"
  return cli.main(host)
end

return M

-- cli.lua — the command line (temporary: only `run` until the full CLI lands).
local M = {}

function M.main(host)
  local argv = host.argv
  if argv[1] == "run" and argv[2] then
    local script = argv[2]
    local args = {[0] = script}
    for i = 3, #argv do args[#args + 1] = argv[i] end
    _G.arg = args
    local chunk, err = loadfile(script)
    if not chunk then io.stderr:write("sparkgen: ", err, "\n") return 1 end
    local ok, status = pcall(chunk, table.unpack(args))
    if not ok then io.stderr:write("sparkgen: ", tostring(status), "\n") return 1 end
    return math.type(status) == "integer" and status or 0
  end
  io.stderr:write("sparkgen: usage: sparkgen run SCRIPT\n")
  return 2
end

return M

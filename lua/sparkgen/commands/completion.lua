-- commands/completion.lua — `sparkgen completion bash|zsh|fish`: a completion script for
-- the shell, generated from the command line itself (lua-argparse), so it always
-- knows every command and option. `make install` installs all three.
--   bash: source <(sparkgen completion bash)
--   zsh:  sparkgen completion zsh > "${fpath[1]}/_sparkgen"
--   fish: sparkgen completion fish > ~/.config/fish/completions/sparkgen.fish
local M = {}

M.summary = "Print a shell completion script: bash, zsh or fish."

function M.setup(cmd)
  cmd:argument("shell", "bash, zsh or fish."):choices({"bash", "zsh", "fish"})
end

function M.run(args, ctx)
  local p = ctx.parser
  local script = (args.shell == "bash" and p:get_bash_complete()) or (args.shell == "zsh" and p:get_zsh_complete())
    or p:get_fish_complete()
  ctx.stdout:write(script)
  return 0
end

return M

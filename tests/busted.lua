-- tests/busted.lua — runs busted inside the sparkgen binary, so specs see the same
-- Lua state, C primitives and package path as the product:
--   ./sparkgen run --trusted tests/busted.lua [busted options] tests/lua
require("busted.runner")({standalone = false})

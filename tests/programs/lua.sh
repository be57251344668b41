#!/usr/bin/env bash
# Lua 5.4 on ptalloc, compared with glibc.
#   Debian package: lua5.4
#
# Lua's allocator is realloc/free only, so this mostly exercises realloc:
# tables grown element by element and rehashed, string building, closures,
# coroutines, weak tables and many full GC cycles. Run with the default
# incremental collector and with the generational one. Output must match
# (only sorted keys are printed: the string hash seed is random per run).
source "$(dirname "$0")/common.bash"
LUA=lua5.4
need "$LUA"
check_preload
cd "$T"

if [ "$QUICK" = 1 ]; then SCALE=1; else SCALE=3; fi

cat >churn.lua <<'EOF'
local SCALE, MODE = tonumber(arg[1]), arg[2]
collectgarbage(MODE)
math.randomseed(42)
local function out(...) print(...) end
local function hash(s) local h = 5381 for i = 1, #s do h = (h * 33 + s:byte(i)) % 4294967296 end return h end

-- tables grown by appends, then holes, then rehash
local t = {}
for i = 1, 200000 * SCALE do t[i] = i * 3 end
for i = 1, #t, 3 do t[i] = nil end
local s = 0
for k, v in pairs(t) do s = s + v end
out("array", s)

-- hash tables with string keys
local d = {}
for i = 1, 50000 * SCALE do d["key" .. (i * 7919 % 100003)] = string.rep("v", i % 50) end
local keys = {}
for k in pairs(d) do keys[#keys + 1] = k end
table.sort(keys)
local h = 0
for i = 1, #keys, 97 do h = (h + hash(keys[i]) + #d[keys[i]]) % 4294967296 end
out("hash", #keys, h)
d, keys = nil, nil

-- strings: concat, gsub, format, table.concat
local parts = {}
for i = 1, 30000 * SCALE do
  parts[#parts + 1] = string.format("%d:%s:%x", i, string.rep("ab", math.random(0, 30)), math.random(0, 1 << 30))
end
local big = table.concat(parts, ",")
local replaced = big:gsub("ab", "xyz")
local n = 0
for w in replaced:gmatch("%d+:") do n = n + 1 end
out("strings", #big, #replaced, n, hash(replaced:sub(1, 100000)))
parts, big, replaced = nil, nil, nil

-- closures and objects
local function counter(start)
  local c = start
  return function(step) c = c + step; return c end
end
local fs = {}
for i = 1, 20000 * SCALE do fs[i] = counter(i) end
local acc = 0
for r = 1, 5 do for i = 1, #fs do acc = (acc + fs[i](r)) % 1000000007 end end
out("closures", acc)
fs = nil

-- coroutines producing tables
local function producer(k)
  return coroutine.wrap(function()
    for i = 1, 2000 do coroutine.yield({ k, i, string.rep("c", (i * k) % 64) }) end
  end)
end
local total = 0
for k = 1, 20 * SCALE do
  for item in producer(k) do total = total + item[1] * item[2] + #item[3] end
end
out("coroutines", total)

-- weak tables and full collections
local weak = setmetatable({}, { __mode = "v" })
local strong = {}
for round = 1, 10 * SCALE do
  for i = 1, 5000 do
    local o = { round, i, tostring(i) }
    weak[#weak + 1] = o
    if i % 10 == 0 then strong[#strong + 1] = o end
  end
  collectgarbage("collect")
end
local alive = 0
for _, v in pairs(weak) do alive = alive + 1 end
out("weak", #strong, alive >= #strong)

-- sort of records
local recs = {}
for i = 1, 100000 * SCALE do recs[i] = { k = math.random(1, 1000000), s = tostring(i) } end
table.sort(recs, function(a, b) if a.k ~= b.k then return a.k < b.k end return a.s < b.s end)
out("sort", recs[1].k, recs[#recs].k, recs[(#recs // 2)].s)
out("done")
EOF
run_both lua.incremental 300 cat "$LUA" churn.lua "$SCALE" incremental
run_both lua.generational 300 cat "$LUA" churn.lua "$SCALE" generational
finish

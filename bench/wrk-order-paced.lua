-- wrk-order.lua at a fixed rate: `wrk -t1 -c32 -d10s -s bench/wrk-order-paced.lua <url> -- <orders/s>`.
-- wrk itself is a closed loop; delay() holds each connection's next request until its slot in a
-- schedule of <orders/s> (one thread), so the rate is kept as long as a connection is free when a slot
-- comes (enough connections for rate x latency). Each connection's first request goes out at once.
-- bench/load.ts uses it to find the highest rate the pipeline keeps up with; it checks the rate was met.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk-order.lua")

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local now = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  return tonumber(now.tv_sec) * 1000 + tonumber(now.tv_nsec) / 1e6
end

local interval_ms, next_slot_ms

function init(args)
  interval_ms = 1000 / assert(tonumber(args[1]), "usage: ... -s wrk-order-paced.lua <url> -- <orders/s>")
end

function delay()
  local t = now_ms()
  next_slot_ms = (next_slot_ms or t) + interval_ms
  return math.max(0, next_slot_ms - t)
end

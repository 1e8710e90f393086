-- wrk script of bench/ocsp.py: POSTs DER OCSP requests read from a file.
--
--   [OCSPBENCH_RATE=R] wrk -t2 -c64 -d20s -s bench/ocsp_wrk.lua URL -- FILE MODE THREADS
--
-- FILE     DER OCSPRequests, each preceded by its length (2 bytes, big-endian), read at start.
-- MODE     random: every request picks one at random (a working set, asked again and again);
--          seq: thread i of n sends requests i, i+n, i+2n, ... (every request a serial not
--          asked before, until the file wraps; `requests` > the file's count says it wrapped).
-- THREADS  the -t value (the stride of seq mode).
-- OCSPBENCH_RATE (environment, optional): requests/s over all threads. An environment
--          variable because delay() is defined only when pacing: wrk puts every request of
--          a script that defines delay() through a timer. Each thread sends on its own
--          fixed schedule (one slot every THREADS/RATE seconds). A connection that is free
--          takes the next slot and waits for it (wrk's delay()); a slot that finds every
--          connection of its thread busy is sent late, as soon as one is free, and counted
--          in `late` (with the worst lateness): with late = 0 no send waited for a
--          response, so the latencies are those of an open-loop (fixed-rate) client.
--
-- done() prints one line "OCSPBENCH {json}" that bench/ocsp.py parses.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } ocspbench_timespec;
int clock_gettime(int clk_id, ocspbench_timespec *tp);
]]
local ts = ffi.new("ocspbench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- wrk's own resolve() opens and closes a TCP connection to the server before the run,
-- without sending anything. `openssl ocsp` (3.0 to at least 3.2, one process or one
-- -multi child) then spins on that closed connection and never answers again (OpenSSL
-- issues #23934, #31129). Resolve without that probe: the run's own connections are
-- the check.
function wrk.resolve(host, service)
  wrk.addrs = wrk.lookup(host, service)
end

local threads = {}
local nthreads_setup = 0

function setup(thread)
  nthreads_setup = nthreads_setup + 1
  thread:set("id", nthreads_setup)
  table.insert(threads, thread)
end

local bodies, n, mode, pos, stride, interval, next_t
late, late_max_ms = 0, 0

function init(args)
  local file, nthreads, rate = args[1], tonumber(args[3] or "1"), tonumber(os.getenv("OCSPBENCH_RATE") or "0")
  mode = args[2] or "random"
  bodies = {}
  local headers = { ["Content-Type"] = "application/ocsp-request" }
  local f = assert(io.open(file, "rb"))
  local data = f:read("*a")
  f:close()
  local i = 1
  while i < #data do
    local len = data:byte(i) * 256 + data:byte(i + 1)
    -- pre-formatted: request() only picks one
    table.insert(bodies, wrk.format("POST", nil, headers, data:sub(i + 2, i + 1 + len)))
    i = i + 2 + len
  end
  n = #bodies
  stride = nthreads
  pos = (id or 1) - 1
  math.randomseed(12345 + 7919 * (id or 1))
  if rate and rate > 0 then
    interval = 1000.0 * nthreads / rate -- ms between this thread's slots
  end
end

function request()
  if mode == "seq" then
    local r = bodies[(pos % n) + 1]
    pos = pos + stride
    return r
  end
  return bodies[math.random(n)]
end

if tonumber(os.getenv("OCSPBENCH_RATE") or "0") > 0 then
  -- only then: wrk puts every request of a script that has delay() through a timer
  function delay()
    local t = now_ms()
    if next_t == nil then
      next_t = t
    end
    next_t = next_t + interval
    local d = next_t - t
    if d < 0 then
      late = late + 1
      if -d > late_max_ms then
        late_max_ms = -d
      end
      return 0
    end
    return math.floor(d)
  end
end

function done(summary, latency, requests)
  local total_late, worst = 0, 0
  for _, t in ipairs(threads) do
    total_late = total_late + (t:get("late") or 0)
    local w = t:get("late_max_ms") or 0
    if w > worst then worst = w end
  end
  local e = summary.errors
  io.write(string.format(
    'OCSPBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,"late":%d,"late_max_ms":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, total_late, worst))
end

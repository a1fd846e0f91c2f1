-- wrk script for `bun run bench`: every request is a valid POST /orders, and wrk's own summary is
-- printed as one JSON line (prefixed "wrk-summary ") that bench/load.ts reads. By hand:
--
--   wrk -t1 -c32 -d20s --latency --timeout 10s -s bench/wrk-order.lua http://127.0.0.1:3000
--
-- The body is the same for every request, two lines as in the pgbench reference (bench/pgbench/order.sql):
-- the API prices them from the menu and writes the order, both items and the outbox row.
wrk.method = "POST"
wrk.path = "/orders"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"items":[{"menuItemId":1,"quantity":1},{"menuItemId":2,"quantity":1}],"customerEmail":"bench@example.com"}'

-- Latencies are in microseconds in wrk's histogram; reported here in milliseconds.
function done(summary, latency, requests)
  local function ms(us) return us / 1000 end
  local e = summary.errors
  io.write(string.format(
    'wrk-summary {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyMs":{"p50":%.3f,"p90":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f,"mean":%.3f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(95)),
    ms(latency:percentile(99)), ms(latency.max), ms(latency.mean)))
end

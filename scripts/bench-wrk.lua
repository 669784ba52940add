-- wrk script of `make bench`: sends WRK_METHOD (default POST) with WRK_BODY (default empty) and prints one
-- machine-readable line from wrk's done hook, which `loadgen report ingest` reads (latencies in microseconds;
-- `status` = responses with a status above 399).
wrk.method = os.getenv("WRK_METHOD") or "POST"
local body = os.getenv("WRK_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max))
end
